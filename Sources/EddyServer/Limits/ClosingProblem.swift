import HTTPTypes
import NIOCore
import NIOHTTPTypes

extension Problem {
    /// Writes the problem as a whole response that closes the connection, through the HTTP codec
    /// behind `context`, and closes the connection once it is written. For handlers in the HTTP
    /// pipeline that answer outside a request's task.
    func writeClosing(to context: ChannelHandlerContext) {
        let body = ByteBuffer(string: jsonText)
        var fields = headers
        fields[.contentType] = "application/problem+json"
        fields[.contentLength] = String(body.readableBytes)
        fields[.connection] = "close"
        context.write(NIOAny(HTTPResponsePart.head(HTTPResponse(status: status, headerFields: fields))), promise: nil)
        context.write(NIOAny(HTTPResponsePart.body(body)), promise: nil)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(NIOAny(HTTPResponsePart.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
    }
}
