import HummingbirdCore
import Logging
import NIOCore

/// Wraps a Hummingbird child channel (HTTP/1, or TLS with HTTP/2) with the per-connection
/// limit, which must see each connection before anything else does. Plain HTTP/1 connections
/// also get the handler that event streams take over (TLS ones get it behind their TLS handler).
struct GuardedChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base
    let limiter: ConnectionLimiter
    /// Installed in front of plain HTTP; TLS channels install it behind their TLS handler.
    let firstRequestGuard: (@Sendable () -> FirstRequestGuard)?
    /// Where the event loops take the frames of handed-off streams from.
    let mailboxes: FrameMailboxes

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(limiter.handler(plaintext: firstRequestGuard != nil))
            if let firstRequestGuard {
                // The first receive buffer stays with the connection for its life (NIO pools it),
                // so an idle event stream would keep NIO's default 2 KiB for a request of a few
                // hundred bytes: start small; it doubles for larger reads.
                try channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: Self.receiveBuffers)
                try channel.pipeline.syncOperations.addHandler(firstRequestGuard())
                try channel.pipeline.syncOperations.addHandler(EventStreamHandoff(mailboxes: mailboxes))
            }
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    static var receiveBuffers: AdaptiveRecvByteBufferAllocator { .init(minimum: 64, initial: 256, maximum: 65536) }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
