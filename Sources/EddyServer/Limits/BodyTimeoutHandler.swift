import HTTPTypes
import Logging
import NIOCore
import NIOHTTPTypes

/// Gives each request's body a bounded time, from the end of its head, to arrive in full. The
/// idle timeout counts only silence, so a client sending a byte every few seconds would hold
/// its connection, and the task reading the body, for as long as it likes. Past the timeout the
/// request gets 408 (when no response has started) and the connection is closed.
final class BodyTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let timeout: TimeAmount
    private let logger: Logger
    private var deadline: Scheduled<Void>?
    /// A response head is written and its end is not.
    private var responding = false

    init(timeout: TimeAmount, logger: Logger) {
        self.timeout = timeout
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            deadline?.cancel()
            deadline = nil
            // Most requests have no body: they cost no timer.
            guard Self.announcesBody(request) else { break }
            let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
            deadline = context.eventLoop.scheduleTask(in: timeout) { bound.value.handler.expire(bound.value.context) }
        case .body:
            break
        case .end:
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head): if head.status.kind != .informational { responding = true }
        case .body: break
        case .end: responding = false
        }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    private func expire(_ context: ChannelHandlerContext) {
        deadline = nil
        logger.notice("request refused: its body did not arrive in time", metadata: ["limit": "\(timeout.nanoseconds / 1_000_000) ms"])
        guard !responding else { return context.close(promise: nil) }
        Problem(.requestTimeout, "body-timeout", "the request's body did not arrive within \(Self.describe(timeout))").writeClosing(to: context)
    }

    static func announcesBody(_ request: HTTPRequest) -> Bool {
        request.headerFields.contains { $0.name == .transferEncoding }
            || request.headerFields.combinedValue(of: .contentLength).map { $0 != "0" } ?? false
    }

    static func describe(_ amount: TimeAmount) -> String {
        let milliseconds = amount.nanoseconds / 1_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms"
    }
}
