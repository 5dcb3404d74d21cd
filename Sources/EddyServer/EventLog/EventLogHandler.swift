import EddyCore
import HTTPTypes
import Hummingbird

/// `GET /.eddy/events?path=/a/&mode=subtree&after=N`: Eddy's own view of the change log as an
/// event stream, one JSON event per SSE message. Its id is the event's checkpoint (epoch and
/// sequence), like every other stream's, so a `Last-Event-ID` from another or a reset log is
/// a start-over rather than a position misread. `after=` also takes a bare sequence number
/// (`after=0`: everything retained), which tools and the web app send to read the log from a
/// known point. The protocol adapters (LiveResource, Solid, Concrnt) sit on the same subscription.
struct EventLogHandler: Sendable {
    let streams: EventStreamResponse
    let access: AccessController

    func respond(to request: Request, exchange: Exchange) async throws -> Response {
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
        let watcher = try access.watcher(exchange.identity, reading: filter)
        let epoch = streams.hub.store.epoch
        // A Last-Event-ID is an id this stream handed out, so always a checkpoint.
        let start = request.headers[.lastEventID].map { ResumePosition.parse($0, epoch: epoch) }
            ?? ResumePosition.parse(query["after"], epoch: epoch, bareSequence: true)
        return try await streams.respond(
            filter: filter, from: start, watcher: watcher, connection: exchange.connection, formatKey: "eddy-log",
            encode: { SSEFrame.make(id: Checkpoint(epoch: epoch, sequence: $0.sequence).token, data: $0.jsonText) })
    }
}
