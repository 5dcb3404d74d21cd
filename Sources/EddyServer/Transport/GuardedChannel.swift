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
    /// Installed around plain HTTP; TLS channels install them behind their TLS handler.
    let firstRequest: FirstRequestHandlers?
    /// Where the event loops take the frames of handed-off streams from.
    let mailboxes: FrameMailboxes

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(limiter.handler(plaintext: firstRequest != nil))
            if let firstRequest {
                // NIO pools the receive buffers of a read burst (up to `maxMessagesPerRead`) and keeps
                // them for the connection's life, so an idle event stream would keep NIO's 2 KiB, or
                // every buffer a long request head grew through. One read per burst keeps only the
                // first, small buffer; larger reads get buffers that doubling sizes, not pooled.
                try channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: Self.receiveBuffers)
                try channel.syncOptions?.setOption(ChannelOptions.maxMessagesPerRead, value: 1)
                try channel.pipeline.syncOperations.addHandler(firstRequest.makeGuard())
                try channel.pipeline.syncOperations.addHandler(EventStreamHandoff(mailbox: mailboxes.mailbox(for: channel.eventLoop)))
            }
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }.flatMapThrowing { value in
            try firstRequest?.addOutcomeHandler(to: channel)
            return value
        }
    }

    static var receiveBuffers: AdaptiveRecvByteBufferAllocator { .init(minimum: 64, initial: 128, maximum: 65536) }

    func handle(value: Value, logger: Logger) async {
        await limiter.countingTask { await base.handle(value: value, logger: logger) }
    }
}
