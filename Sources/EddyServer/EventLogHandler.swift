import EddyCore
import HTTPTypes
import Hummingbird

/// `GET /.eddy/events?path=/a/&mode=subtree&after=N`: Eddy's own view of the change log as an
/// event stream, one JSON event per SSE message with the sequence number as its id. The
/// protocol adapters (LiveResource, Solid, Concrnt) sit on the same subscription.
struct EventLogHandler: Sendable {
    let streams: EventStreamResponse
    let access: AccessController

    func respond(to request: Request, exchange: Exchange) async throws -> Response {
        guard request.method == .get else {
            throw Problem.methodNotAllowed(request.method, allowed: [.get], target: "the event stream")
        }
        let query = request.uri.queryParameters
        let path = try ResourcePath(parsing: query["path"].map(String.init) ?? "/")
        let mode = query["mode"].map(String.init) ?? (path.isCollection ? "subtree" : "value")
        let filter: SubscriptionFilter
        switch mode {
        case "value":
            guard !path.isCollection else {
                throw Problem.badRequest("invalid-parameter", "mode=value watches an object; \(path) is a collection")
            }
            filter = .value(path)
        case "children", "subtree":
            guard path.isCollection else {
                throw Problem.badRequest("invalid-parameter", "mode=\(mode) watches a collection; use a path ending in '/'")
            }
            filter = mode == "children" ? .children(path) : .subtree(path)
        default:
            throw Problem.badRequest("invalid-parameter", "mode must be value, children or subtree, got '\(mode)'")
        }
        try access.authorize(exchange.identity, to: .read, at: path)
        let after = try Self.position(request.headers[.lastEventID] ?? query["after"].map(String.init))
        return try await streams.respond(
            filter: filter, after: after, principal: exchange.identity.subject,
            admits: access.eventAdmission(for: filter, identity: exchange.identity), connection: exchange.connection, formatKey: "eddy-log",
            encode: { SSEFrame.make(id: String($0.sequence), data: $0.jsonText) },
            onHistoryUnavailable: { error in
                SSEFrame.make(id: nil, event: "reset", data: JSONValue.quoted(error.description))
            })
    }

    static func position(_ raw: String?) throws -> SequenceNumber? {
        guard let raw else { return nil }
        guard let value = SequenceNumber(raw) else {
            throw Problem.badRequest("invalid-parameter", "a resume position must be a sequence number, got '\(raw)'")
        }
        return value
    }
}
