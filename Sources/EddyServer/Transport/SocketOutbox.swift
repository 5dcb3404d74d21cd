import HummingbirdWebSocket
import Logging
import Synchronization

/// A socket's bounded queue of outgoing text messages, and the loop that serves a socket with
/// it: one task writes the queue out while the caller's handler reads. A client that does not
/// read fills the queue and is closed with 1008, rather than growing memory.
final class SocketOutbox: Sendable {
    let messages: AsyncStream<String>
    private let continuation: AsyncStream<String>.Continuation
    private let slow = Mutex(false)

    init(capacity: Int) {
        (messages, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingOldest(capacity))
    }

    /// Queues a message; false (and the socket ends) when the client is not reading.
    @discardableResult
    func send(_ message: String) -> Bool {
        if case .enqueued = continuation.yield(message) { return true }
        slow.withLock { $0 = true }
        continuation.finish()
        return false
    }

    func finish() {
        continuation.finish()
    }

    /// Serves one socket: text messages go to `handle`, other messages to `nonText`, until the
    /// client leaves or the outbox is finished (then the socket is closed).
    func serve(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, maximumMessageBytes: Int, logger: Logger,
        handle: @Sendable (String) async -> Void, nonText: @Sendable () -> Void = {}
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await message in self.messages { try await outbound.write(.text(message)) }
                // The outbox ended (the client left, fell behind, or the feed is over): close.
                if self.slow.withLock({ $0 }) {
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
