import Logging
import NIOCore

/// Guards a connection until its first request head has arrived: the head must be complete
/// within the header timeout (slow-loris clients are cut off) and no larger than the header
/// limit (431). It reads raw bytes because, with WebSocket upgrades possible, the HTTP
/// handlers that enforce these for later requests are only installed once the first head is
/// seen. It removes itself as soon as that head is complete.
final class FirstRequestGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    private let maximumHeaderBytes: Int
    private let logger: Logger
    private var deadline: Scheduled<Void>?
    private var seen = 0
    /// The last bytes of the previous chunk, so a "\r\n\r\n" split across reads is found.
    private var tail: [UInt8] = []
    private var finished = false

    init(timeout: TimeAmount, maximumHeaderBytes: Int, logger: Logger) {
        self.timeout = timeout
        self.maximumHeaderBytes = maximumHeaderBytes
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let logger = self.logger
        deadline = context.eventLoop.scheduleTask(in: timeout) {
            logger.notice("connection closed: no complete request head in time")
            bound.value.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finished else {
            context.fireChannelRead(data)
            return
        }
        let buffer = unwrapInboundIn(data)
        let bytes = tail + buffer.readableBytesView
        if let end = headEnd(in: bytes) {
            seen += end - tail.count
            finished = true
            deadline?.cancel()
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        seen += buffer.readableBytes
        if seen > maximumHeaderBytes {
            finished = true
            refuse(context)
            return
        }
        tail = Array(bytes.suffix(3))
        context.fireChannelRead(data)
    }

    private func headEnd(in bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4)
        where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index + 4
        }
        return nil
    }

    private func refuse(_ context: ChannelHandlerContext) {
        deadline?.cancel()
        logger.warning("request refused: header section too large", metadata: ["limit": "\(maximumHeaderBytes)"])
        let problem = Problem(
            .init(code: 431, reasonPhrase: "Request Header Fields Too Large"), "headers-too-large",
            "the request's header section exceeds \(maximumHeaderBytes) bytes")
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(NIOAny(problem.closingHTTP1Response())).whenComplete { _ in bound.value.close(promise: nil) }
    }
}

/// Makes the handlers that watch a connection until its first request is decided: the guard in
/// front of the HTTP codec, and the `FirstRequestOutcomeHandler` behind the upgrade handler.
struct FirstRequestHandlers: Sendable {
    let timeout: TimeAmount
    let maximumHeaderBytes: Int
    let maximumWebSocketMessageBytes: Int
    let logger: Logger

    func makeGuard() -> FirstRequestGuard {
        FirstRequestGuard(timeout: timeout, maximumHeaderBytes: maximumHeaderBytes, logger: logger)
    }

    /// Once Hummingbird has set up its HTTP/1 pipeline on `channel`, on its event loop.
    func addOutcomeHandler(to channel: any Channel) throws {
        try channel.pipeline.syncOperations.addHandler(
            FirstRequestOutcomeHandler(
                maximumHeaderBytes: maximumHeaderBytes, maximumWebSocketMessageBytes: maximumWebSocketMessageBytes, logger: logger))
    }
}
