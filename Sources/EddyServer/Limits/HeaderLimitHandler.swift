import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Answers a request whose header section exceeds the decoder's limits with 431 and a problem
/// body, instead of the bare 400 the HTTP layer would send.
final class HeaderLimitHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let maximumBytes: Int
    private let logger: Logger

    init(maximumBytes: Int, logger: Logger) {
        self.maximumBytes = maximumBytes
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError, parserError == .headerOverflow else {
            context.fireErrorCaught(error)
            return
        }
        logger.warning("request refused: header section too large", metadata: ["limit": "\(maximumBytes)"])
        let problem = Problem(
            .requestHeaderFieldsTooLarge, "headers-too-large",
            "the request's header section exceeds \(maximumBytes) bytes")
        problem.writeClosing(to: context)
    }
}
