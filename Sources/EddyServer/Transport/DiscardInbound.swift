import NIOCore

/// Swallows what a removed decoder still held (see `removeHTTPHandlers`).
final class DiscardInbound: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
