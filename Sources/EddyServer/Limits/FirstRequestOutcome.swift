import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket

/// What becomes of a connection's first request, which nothing in Hummingbird's HTTP/1 upgrade
/// pipeline answers when it goes wrong: until the upgrade handler has decided between a
/// WebSocket and plain HTTP, a parser error reaches no one, the connection is never answered nor
/// closed, and it holds one of its address's connection slots for as long as the client likes.
/// Pure, so that every path can be checked without a socket.
enum FirstRequestOutcome: Equatable {
    /// The request cannot be parsed: answer with this problem and close.
    case refuse(Problem.Summary)
    /// Not a decision: a declined upgrade (the upgrade handler goes on to plain HTTP) or an
    /// error below HTTP, which closes the channel by itself.
    case undecided
    /// An upgraded WebSocket: its frames are served from the pipeline from the first one on.
    case takeOverWebSocket
    /// Plain HTTP, whose layer now answers parser errors itself.
    case handOver

    enum Event {
        case error(any Error)
        case upgraded
        case requestPartRead
    }

    static func after(_ event: Event, maximumHeaderBytes: Int) -> FirstRequestOutcome {
        switch event {
        case .upgraded: return .takeOverWebSocket
        case .requestPartRead: return .handOver
        case .error(let error):
            guard let parserError = error as? HTTPParserError else { return .undecided }
            return .refuse(problem(for: parserError, maximumHeaderBytes: maximumHeaderBytes))
        }
    }

    static func problem(for error: HTTPParserError, maximumHeaderBytes: Int) -> Problem.Summary {
        switch error {
        case .headerOverflow:
            return .init(status: .requestHeaderFieldsTooLarge, kind: "headers-too-large", detail: "the request's header section exceeds \(maximumHeaderBytes) bytes")
        case .invalidMethod:
            return .init(status: .badRequest, kind: "malformed-request", detail: "not an HTTP/1.1 request: the method is unknown or the bytes are not HTTP")
        case .unexpectedContentLength, .invalidContentLength:
            return .init(
                status: .badRequest, kind: "malformed-request",
                detail: "the body's length is ambiguous: Content-Length is invalid or comes with Transfer-Encoding")
        default:
            return .init(status: .badRequest, kind: "malformed-request", detail: "the request cannot be parsed as HTTP/1.1 (\(error))")
        }
    }
}

extension Problem {
    /// A problem's status and text, comparable, for decisions made below Hummingbird.
    struct Summary: Equatable, Sendable {
        let status: HTTPResponse.Status
        let kind: String
        let detail: String

        var problem: Problem { Problem(status, kind, detail) }
    }
}

/// Sits behind the HTTP/1 upgrade handler until the first request is decided, and carries out
/// its `FirstRequestOutcome`: parser errors get a problem response and a close at once (the
/// connection's slot is freed), and an upgraded socket gets its `WebSocketTakeover` before any
/// frame is decoded, so that no frame is left to the handlers behind. It removes itself as soon
/// as the request is decided.
final class FirstRequestOutcomeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    private let maximumHeaderBytes: Int
    private let maximumWebSocketMessageBytes: Int
    private let logger: Logger
    private var decided = false

    init(maximumHeaderBytes: Int, maximumWebSocketMessageBytes: Int, logger: Logger) {
        self.maximumHeaderBytes = maximumHeaderBytes
        self.maximumWebSocketMessageBytes = maximumWebSocketMessageBytes
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
        carryOut(.after(.requestPartRead, maximumHeaderBytes: maximumHeaderBytes), context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let outcome = FirstRequestOutcome.after(.error(error), maximumHeaderBytes: maximumHeaderBytes)
        guard outcome != .undecided else { return context.fireErrorCaught(error) }
        carryOut(outcome, context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        context.fireUserInboundEventTriggered(event)
        // The upgrade handler replays the bytes that came with the request right after this
        // event: the takeover must be in place by then.
        if case .upgradeComplete = event as? HTTPServerUpgradeEvents {
            carryOut(.after(.upgraded, maximumHeaderBytes: maximumHeaderBytes), context)
        }
    }

    private func carryOut(_ outcome: FirstRequestOutcome, _ context: ChannelHandlerContext) {
        guard !decided else { return }
        decided = true
        switch outcome {
        case .refuse(let summary):
            logger.notice("first request refused: it cannot be parsed", metadata: ["status": "\(summary.status.code)", "kind": "\(summary.kind)"])
            let problem = summary.problem
            let body = ByteBuffer(string: problem.jsonText)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/problem+json")
            headers.add(name: "Content-Length", value: String(body.readableBytes))
            headers.add(name: "Connection", value: "close")
            let head = HTTPResponseHead(
                version: .http1_1, status: .init(statusCode: problem.status.code, reasonPhrase: problem.status.reasonPhrase), headers: headers)
            context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(body))), promise: nil)
            let pipeline = NIOLoopBound(context.pipeline, eventLoop: context.eventLoop)
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in pipeline.value.closeAsIfInputEnded() }
        case .undecided:
            decided = false
        case .takeOverWebSocket:
            WebSocketTakeover.adopt(context.pipeline, maximumMessageBytes: maximumWebSocketMessageBytes, logger: logger)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        case .handOver:
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }
}

extension ChannelPipeline {
    /// Closes a connection whose first request is undecided as the end of the client's input
    /// would: the upgrade handler then gives up its decision as for a client that left, which
    /// Hummingbird does not log as an error. A client must not fill the error log at will.
    func closeAsIfInputEnded() {
        fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        close(promise: nil)
    }
}
