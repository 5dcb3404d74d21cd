import EddyCore
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle
import Synchronization

/// `GET /.eddy/status`: a `text/event-stream` with one `status` event a second (see
/// `StatusSampler`), for the live page's status panel. It tells how busy the server is, so it
/// is served to whoever may read the root collection. Each stream holds a task; at most
/// `maximumStreams` run at once, and past that the answer is 503.
final class StatusStream: Sendable {
    static let path = "/.eddy/status"
    static let maximumStreams = 64

    let sampler: StatusSampler
    let access: AccessController
    private let open = Atomic<Int>(0)

    init(sampler: StatusSampler, access: AccessController) {
        self.sampler = sampler
        self.access = access
    }

    func respond(_ request: Request, exchange: Exchange) async throws -> Response {
        try access.authorize(exchange.identity, to: .read, at: .root)
        let first = try await sampler.sample()
        guard open.add(1, ordering: .relaxed).newValue <= Self.maximumStreams else {
            open.subtract(1, ordering: .relaxed)
            throw Problem(
                .serviceUnavailable, "too-many-status-streams", "at most \(Self.maximumStreams) status streams are served at once",
                headers: [.retryAfter: "30"])
        }
        let body = ResponseBody { [self] writer in
            defer { open.subtract(1, ordering: .relaxed) }
            var sample = first
            // A client that left is noticed when the next write fails; a server shutting down
            // ends the stream within one interval.
            while true {
                try await writer.write(ByteBuffer(string: SSEFrame.make(id: nil, event: "status", data: sample.json)))
                try await Task.sleep(for: StatusSampler.interval)
                guard !Task.isShuttingDownGracefully else { break }
                sample = try await sampler.sample()
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}
