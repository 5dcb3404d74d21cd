import EddyCore
import HTTPTypes
import Hummingbird

/// `value-stream` and `changes-stream`: server-sent events for one object or one collection.
/// Each event's id is the checkpoint of its change, so `Last-Event-ID` resumes exactly after it.
struct LiveStreams: Sendable {
    let streams: EventStreamResponse
    let access: AccessController
    let epoch: String

    func valueStream(_ request: Request, rawPath: String, exchange: Exchange) async throws -> Response {
        let path = try LiveEndpoints.resource(after: LiveEndpoints.valueStream, in: rawPath)
        guard !path.isCollection else {
            throw Problem.badRequest("invalid-path", "value streams watch objects; use \(LiveEndpoints.changesStream) for collections")
        }
        return try await respond(filter: .value(path), request: request, exchange: exchange, formatKey: "lr-value-sse") { change in
            SSEFrame.make(id: change.etag.opaque, data: change.value ?? "")
        }
    }

    func changesStream(_ request: Request, rawPath: String, exchange: Exchange) async throws -> Response {
        let path = try LiveEndpoints.resource(after: LiveEndpoints.changesStream, in: rawPath)
        guard path.isCollection else {
            throw Problem.badRequest("invalid-path", "changes streams watch collections; the path must end with '/'")
        }
        let epoch = self.epoch
        return try await respond(filter: .children(path), request: request, exchange: exchange, formatKey: "lr-changes-sse") { change in
            SSEFrame.make(id: Checkpoint(epoch: epoch, sequence: change.sequence).token, data: "[" + ChangesFeed.item(for: change) + "]")
        }
    }

    private func respond(
        filter: SubscriptionFilter, request: Request, exchange: Exchange, formatKey: EncodingKey<ByteBuffer>,
        encode: @escaping @Sendable (ChangeEvent) -> String
    ) async throws -> Response {
        let watcher = try access.watcher(exchange.identity, reading: filter)
        let token = request.headers[.lastEventID] ?? request.uri.queryParameters["after"].map(String.init)
        return try await streams.respond(
            filter: filter, from: ResumePosition.parse(token, epoch: epoch), watcher: watcher, connection: exchange.connection,
            formatKey: formatKey, encode: encode)
    }
}
