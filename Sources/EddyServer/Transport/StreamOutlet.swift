import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle

/// Where a long-lived stream's frames go. On an HTTP/1.1 connection the connection's
/// `EventStreamHandoff` writes them from the event loop once the response head is out, and the
/// request's task ends (an idle stream holds no task). Elsewhere — HTTP/2 streams — a bounded
/// queue feeds the response body from the request's task, as before.
struct StreamOutlet: Sendable {
    private enum Route: Sendable {
        case socket(EventStreamHandoff)
        case queue(AsyncStream<ByteBuffer>, AsyncStream<ByteBuffer>.Continuation)
    }

    private let route: Route

    /// An outlet for a stream answering on `connection`, holding at most `capacity` frames the
    /// client has not taken yet.
    static func open(on connection: (any Channel)?, capacity: Int) async -> StreamOutlet {
        if let connection, let handoff = await EventStreamHandoff.claim(connection, capacity: capacity) {
            return StreamOutlet(route: .socket(handoff))
        }
        let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream(bufferingPolicy: .bufferingOldest(capacity))
        return StreamOutlet(route: .queue(stream, continuation))
    }

    /// Queues a frame; false when the client is too slow to take it.
    func send(_ frame: ByteBuffer) -> Bool {
        switch route {
        case .socket(let handoff):
            return handoff.send(frame)
        case .queue(_, let continuation):
            if case .enqueued = continuation.yield(frame) { return true }
            return false
        }
    }

    /// Ends the stream after the queued frames and `last`.
    func finish(last: ByteBuffer? = nil) {
        switch route {
        case .socket(let handoff):
            handoff.finish(last: last)
        case .queue(_, let continuation):
            if let last { continuation.yield(last) }
            continuation.finish()
        }
    }

    /// The streaming response: `first`, then the frames, with keep-alives from the shared
    /// ticker, until the stream is finished (by its subscription, which also ends at its
    /// `endAt`), the client goes away or the server
    /// shuts down; `onEnd` then releases what fed it.
    func response(
        headers: HTTPFields, first: ByteBuffer?, ticker: KeepAliveTicker, keepAliveFrame: ByteBuffer,
        onEnd: @escaping @Sendable () -> Void
    ) -> Response {
        switch route {
        case .socket(let handoff):
            handoff.whenEnded(onEnd)
            var headers = headers
            // The connection serves nothing after the stream; saying so lets clients not reuse it.
            headers[.connection] = "close"
            return Response(status: .ok, headers: headers, body: ResponseBody { _ in
                try await handoff.takeOver(first: first, keepAliveFrame: keepAliveFrame, ticker: ticker, endAt: nil)
                throw EventStreamHandedOff()
            })
        case .queue(let stream, let continuation):
            return Response(
                status: .ok, headers: headers,
                body: Self.queuedBody(
                    stream, continuation, first: first, ticker: ticker, keepAliveFrame: keepAliveFrame, onEnd: onEnd))
        }
    }

    private static func queuedBody(
        _ stream: AsyncStream<ByteBuffer>, _ continuation: AsyncStream<ByteBuffer>.Continuation, first: ByteBuffer?,
        ticker: KeepAliveTicker, keepAliveFrame: ByteBuffer, onEnd: @escaping @Sendable () -> Void
    ) -> ResponseBody {
        ResponseBody { writer in
            let keepAlive = ticker.register { continuation.yield(keepAliveFrame) }
            defer {
                keepAlive.cancel()
                onEnd()
            }
            if let first { try await writer.write(first) }
            try await withGracefulShutdownHandler {
                for await chunk in stream { try await writer.write(chunk) }
            } onGracefulShutdown: {
                continuation.finish()
            }
            try await writer.finish(nil)
        }
    }
}

/// Thrown by an event-stream body once the connection's handler writes the stream: it ends the
/// request's task without ending the response.
struct EventStreamHandedOff: Error {}
