import HummingbirdWebSocket
import Logging
import NIOCore
import Synchronization

/// The upgraded connection a WebSocket service is handed, and what serving it from the pipeline
/// needs besides.
struct SocketConnection: Sendable {
    let channel: any Channel
    /// Beats every socket served from its pipeline, which then pings its client.
    let pinger: KeepAliveTicker
}

/// A socket's bounded queue of outgoing text messages, and what serves a socket with it. On an
/// HTTP/1.1 connection the messages are written as ready-made frames by the connection's
/// `EventStreamHandoff`, from the event loop, with no task switch per message, and the socket is
/// then served from its pipeline by a `WebSocketTakeover`, with no task of the service's own;
/// elsewhere one task writes the queue out while the caller's handler reads. A client that does
/// not read is closed with 1008, rather than growing memory.
final class SocketOutbox: Sendable {
    private enum Route: Sendable {
        case frames(EventStreamHandoff, SocketConnection)
        case queue
    }

    private let route: Route
    /// The queued messages; on the frame route only its end matters.
    private let messages: AsyncStream<String>
    private let continuation: AsyncStream<String>.Continuation
    private let ending = Mutex(SocketOutboxStateMachine<WebSocketTakeover>())

    private init(route: Route, capacity: Int) {
        self.route = route
        (messages, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingOldest(capacity))
    }

    /// An outbox for the socket upgraded on `connection`, holding at most `capacity` messages
    /// the client has not taken yet.
    static func open(on connection: SocketConnection?, capacity: Int) async -> SocketOutbox {
        if let connection, let handoff = await EventStreamHandoff.claimWebSocket(connection.channel, capacity: capacity) {
            return SocketOutbox(route: .frames(handoff, connection), capacity: 1)
        }
        return SocketOutbox(route: .queue, capacity: capacity)
    }

    /// Queues a message; false (and the socket ends) when the client is not reading.
    @discardableResult
    func send(_ message: String) -> Bool {
        switch route {
        case .frames(let handoff, _): return FrameSender(handoff: handoff, outbox: self).send(WebSocketFrames.text(message))
        case .queue:
            if case .enqueued = continuation.yield(message) { return true }
            return tooSlow()
        }
    }

    /// Queues text frames made by `WebSocketFrames.text`, which sockets sending the same message
    /// share, on a socket whose messages go out as ready-made frames. Held by the subscriptions
    /// in place of the outbox: the hub calls them for every socket of an event in a row, and
    /// each object a delivery reads is a cache miss. The outbox is read only when the client is
    /// too slow.
    struct FrameSender: Sendable {
        fileprivate let handoff: EventStreamHandoff
        fileprivate let outbox: SocketOutbox

        func send(_ frame: ByteBuffer) -> Bool {
            handoff.send(frame) ? true : outbox.tooSlow()
        }
    }

    /// Nil unless the socket's messages go out as ready-made frames.
    var frameSender: FrameSender? {
        guard case .frames(let handoff, _) = route else { return nil }
        return FrameSender(handoff: handoff, outbox: self)
    }

    private func tooSlow() -> Bool {
        finish(tooSlow: true)
        return false
    }

    /// Ends the socket after the messages queued so far.
    func finish() {
        finish(tooSlow: false)
    }

    private func finish(tooSlow: Bool) {
        continuation.finish()
        perform(ending.withLock { $0.finish(tooSlow: tooSlow) })
    }

    private func perform(_ action: SocketOutboxStateMachine<WebSocketTakeover>.Action) {
        switch action {
        case .none: break
        case .closeAfterMessages(let takeover, let tooSlow): takeover.closeAfterMessages(tooSlow: tooSlow)
        case .invalidTransition(let invalid): invalid.report()
        }
    }

    /// Serves one socket: text messages go to `handle`, other messages to `nonText`, until the
    /// client leaves or the outbox is finished (then the socket is closed); `ended` runs once,
    /// when the socket has closed. Returns as soon as the socket is served from its pipeline,
    /// and otherwise when it has ended.
    func serve(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, maximumMessageBytes: Int, logger: Logger,
        handle: @escaping @Sendable (String) async -> Void, nonText: @escaping @Sendable () -> Void = {},
        ended: @escaping @Sendable () -> Void
    ) async throws {
        if case .frames(let handoff, let connection) = route,
            let takeover = await WebSocketTakeover.attach(
                on: connection.channel, handoff: handoff, maximumMessageBytes: maximumMessageBytes, pinger: connection.pinger,
                service: .init(text: handle, nonText: nonText, ended: ended), logger: logger)
        {
            // The handlers' stream now ends after what they took before the takeover (nothing,
            // when it was adopted at the upgrade).
            var earlier: [WebSocketTakeover.Earlier] = []
            do {
                for try await message in inbound.messages(maxSize: maximumMessageBytes) {
                    if case .text(let text) = message { earlier.append(.text(text)) } else { earlier.append(.nonText) }
                }
            } catch {
                logger.debug("a message before the takeover was refused", metadata: ["error": "\(error)"])
            }
            takeover.start(after: earlier)
            perform(ending.withLock { $0.takenOver(by: takeover) })
            return
        }
        defer { ended() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                switch self.route {
                case .queue:
                    for await message in self.messages { try await outbound.write(.text(message)) }
                case .frames(let handoff, _):
                    for await _ in self.messages {}
                    // The close frame goes after every message posted before.
                    try? await handoff.releaseWebSocket().get()
                }
                // The outbox ended (the client left, fell behind, or the feed is over): close.
                if self.ending.withLock({ $0.tooSlow }) {
                    try? await outbound.close(.policyViolation, reason: "too slow: messages were not read")
                } else {
                    try? await outbound.close(.normalClosure, reason: nil)
                }
            }
            do {
                for try await message in inbound.messages(maxSize: maximumMessageBytes) {
                    guard case .text(let text) = message else {
                        nonText()
                        continue
                    }
                    await handle(text)
                }
            } catch {
                logger.notice("socket closed on an error", metadata: ["error": "\(error)"])
            }
            finish()
            try await group.next()
            group.cancelAll()
        }
    }
}

/// Server-to-client WebSocket frames (RFC 6455 §5.2): unmasked, so the bytes of one message
/// are the same for every socket and are built once.
enum WebSocketFrames {
    static func text(_ message: String) -> ByteBuffer {
        let payload = message.utf8.count
        var frame = ByteBuffer()
        frame.reserveCapacity(payload + 10)
        frame.writeInteger(UInt8(0x81))
        if payload < 126 {
            frame.writeInteger(UInt8(payload))
        } else if payload <= 0xFFFF {
            frame.writeInteger(UInt8(126))
            frame.writeInteger(UInt16(payload))
        } else {
            frame.writeInteger(UInt8(127))
            frame.writeInteger(UInt64(payload))
        }
        frame.writeString(message)
        return frame
    }
}
