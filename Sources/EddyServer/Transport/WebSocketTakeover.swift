import Logging
import NIOCore
import NIOWebSocket

/// Serves an upgraded WebSocket from its pipeline once the socket's service has set it up
/// (issue #7). Before, hummingbird-websocket's handler ran a task group with a ping task, and the
/// service a task group of its own, for the socket's whole life, and the connection's own task
/// waited for the channel to close. Now they all end once the socket is set up: an idle socket
/// holds no task, and none of the memory a task's allocator grew to during the upgrade.
///
/// Sits right behind the frame decoder. Client frames stop here: pings are answered, fragments
/// joined, text checked as UTF-8 and handed to the service one message at a time (with a task
/// only while messages wait). The handlers behind it are told that input and output are closed, and
/// whatever they still write, flush or close is dropped: they no longer own the socket. The service's
/// messages go out through the connection's `EventStreamHandoff`, as ready-made frames.
///
/// `keepAliveBeat` and `closeAfterMessages` may be called from any thread; everything else is
/// confined to the event loop, which is what makes it `Sendable`.
final class WebSocketTakeover: ChannelDuplexHandler, RemovableChannelHandler, KeepAliveListener, @unchecked Sendable {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    /// What the socket's service does with it.
    struct Service: Sendable {
        let text: @Sendable (String) async -> Void
        let nonText: @Sendable () -> Void
        /// Once, when the socket has closed.
        let ended: @Sendable () -> Void
    }

    /// Messages the handlers behind took before the takeover; they are served first.
    enum Earlier: Sendable {
        case text(String)
        case nonText
    }

    private let service: Service
    private let handoff: EventStreamHandoff
    private let eventLoop: any EventLoop
    private let maximumMessageBytes: Int
    private let logger: Logger
    private var context: ChannelHandlerContext?

    private var fragments: ByteBuffer?
    private var fragmentsAreText = false
    /// Text messages waiting for the service, and whether a task is taking them.
    private var pending: [String] = []
    private var dispatching = false
    /// False until the earlier messages are in `pending`.
    private var started = false
    private var reading = true
    private var awaitingPong = false
    /// Our close frame went out; the connection closes on the client's reply or `closeTimeout`.
    private var closing = false
    private var ended = false
    private var pinging: KeepAliveTicker.Registration?

    /// Past this many waiting messages the socket is not read until the service catches up.
    static let pendingLimit = 32
    static let closeTimeout = TimeAmount.seconds(10)

    private init(handoff: EventStreamHandoff, eventLoop: any EventLoop, maximumMessageBytes: Int, service: Service, logger: Logger) {
        self.handoff = handoff
        self.eventLoop = eventLoop
        self.maximumMessageBytes = maximumMessageBytes
        self.service = service
        self.logger = logger
    }

    /// Takes `channel` over from the handlers behind its frame decoder, and ends their input.
    /// Nil when the pipeline is not an upgraded WebSocket's.
    static func install(
        on channel: any Channel, handoff: EventStreamHandoff, maximumMessageBytes: Int, pinger: KeepAliveTicker, service: Service,
        logger: Logger
    ) async -> WebSocketTakeover? {
        try? await channel.eventLoop.submit { () -> WebSocketTakeover? in
            let pipeline = channel.pipeline.syncOperations
            guard channel.isActive, let decoder = try? pipeline.context(handlerType: ByteToMessageHandler<WebSocketFrameDecoder>.self)
            else { return nil }
            let takeover = WebSocketTakeover(
                handoff: handoff, eventLoop: channel.eventLoop, maximumMessageBytes: maximumMessageBytes, service: service, logger: logger)
            guard (try? pipeline.addHandler(takeover, position: .after(decoder.handler))) != nil, let context = takeover.context else {
                return nil
            }
            // To the handlers behind, the connection is over: their stream ends after the frames
            // decoded so far, and what they still write fails at once rather than waiting. Not
            // by an inactive channel: hummingbird-websocket would then close the channel and wait
            // for it to be closed, keeping the connection's task and its memory for the socket's
            // life. With its output closed, its closing frame fails and the task ends.
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            context.fireUserInboundEventTriggered(ChannelEvent.outputClosed)
            takeover.pinging = pinger.register(takeover)
            // Reads are asked for from here now: the handlers behind may hold theirs back.
            context.read()
            return takeover
        }.get()
    }

    /// Serves the messages taken before the takeover, then everything after.
    func start(after earlier: [Earlier]) {
        eventLoop.execute {
            var texts: [String] = []
            for message in earlier {
                switch message {
                case .text(let text): texts.append(text)
                case .nonText: self.service.nonText()
                }
            }
            self.pending.insert(contentsOf: texts, at: 0)
            self.started = true
            self.dispatchIfNeeded()
        }
    }

    /// Closes the socket once the messages posted before are written: normally, or with 1008
    /// when the client did not read them.
    func closeAfterMessages(tooSlow: Bool) {
        handoff.releaseWebSocket().whenComplete { _ in
            if tooSlow {
                self.sendClose(.policyViolation, reason: "too slow: messages were not read")
            } else {
                self.sendClose(.normalClosure, reason: nil)
            }
        }
    }

    func keepAliveBeat() {
        eventLoop.execute { self.ping() }
    }

    // MARK: Event loop

    private func ping() {
        guard !ended, !closing, context != nil else { return }
        // No pong since the last ping: the client is gone, as hummingbird-websocket judges it,
        // and would not answer a close either.
        guard !awaitingPong else {
            sendClose(.goingAway, reason: "no pong")
            return closeConnection()
        }
        awaitingPong = true
        write(WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer(string: "eddy")))
    }

    private func received(_ frame: WebSocketFrame) {
        guard frame.reservedBits.isEmpty else { return sendClose(.protocolError, reason: "reserved bits set") }
        switch frame.opcode {
        case .connectionClose:
            if closing { return closeConnection() }
            var data = frame.unmaskedData
            let code = data.readInteger(as: UInt16.self).map { WebSocketErrorCode(codeNumber: Int($0)) }
            // Echo a valid code back, as RFC 6455 §5.5.1 has it, and close.
            sendClose(code.flatMap { Self.isEchoable($0) ? $0 : nil } ?? .normalClosure, reason: nil)
            closeConnection()
        case .ping:
            guard !closing else { return }
            write(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData))
        case .pong:
            awaitingPong = false
        case .text, .binary:
            guard !closing else { return }
            guard fragments == nil else { return sendClose(.protocolError, reason: "a new message inside a fragmented one") }
            guard frame.length <= maximumMessageBytes else {
                return sendClose(.messageTooLarge, reason: "messages are limited to \(maximumMessageBytes) bytes")
            }
            if frame.fin {
                complete(frame.unmaskedData, isText: frame.opcode == .text)
            } else {
                fragments = frame.unmaskedData
                fragmentsAreText = frame.opcode == .text
            }
        case .continuation:
            guard !closing else { return }
            guard var joined = fragments else { return sendClose(.protocolError, reason: "a continuation with nothing to continue") }
            fragments = nil
            var data = frame.unmaskedData
            guard joined.readableBytes + data.readableBytes <= maximumMessageBytes else {
                return sendClose(.messageTooLarge, reason: "messages are limited to \(maximumMessageBytes) bytes")
            }
            joined.writeBuffer(&data)
            if frame.fin { complete(joined, isText: fragmentsAreText) } else { fragments = joined }
        default:
            sendClose(.protocolError, reason: "unknown opcode")
        }
    }

    private func complete(_ message: ByteBuffer, isText: Bool) {
        guard isText else { return service.nonText() }
        guard let text = String(validating: message.readableBytesView, as: UTF8.self) else {
            return sendClose(.dataInconsistentWithMessage, reason: "text is not UTF-8")
        }
        pending.append(text)
        if pending.count >= Self.pendingLimit { reading = false }
        dispatchIfNeeded()
    }

    private func dispatchIfNeeded() {
        guard started, !dispatching, !ended, !pending.isEmpty else { return }
        dispatching = true
        let handle = service.text
        let eventLoop = self.eventLoop
        Task {
            while let text = try? await eventLoop.submit({ self.nextPending() }).get() {
                await handle(text)
            }
        }
    }

    private func nextPending() -> String? {
        guard !ended, !pending.isEmpty else {
            dispatching = false
            return nil
        }
        let text = pending.removeFirst()
        if !reading, pending.count <= Self.pendingLimit / 2 {
            reading = true
            context?.read()
        }
        return text
    }

    private func write(_ frame: WebSocketFrame) {
        context?.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    /// Sends our close frame; the connection closes on the client's reply, or after `closeTimeout`.
    private func sendClose(_ code: WebSocketErrorCode, reason: String?) {
        guard !closing, !ended, let context else { return }
        closing = true
        fragments = nil
        pending.removeAll()
        var data = ByteBuffer()
        data.write(webSocketErrorCode: code)
        if let reason { data.writeString(reason) }
        write(WebSocketFrame(fin: true, opcode: .connectionClose, data: data))
        context.eventLoop.scheduleTask(in: Self.closeTimeout) { self.closeConnection() }
    }

    private func closeConnection() {
        context?.close(promise: nil)
    }

    private func end() {
        guard !ended else { return }
        ended = true
        pending.removeAll()
        pinging?.cancel()
        pinging = nil
        service.ended()
    }

    private static func isEchoable(_ code: WebSocketErrorCode) -> Bool {
        switch code {
        case .unknown(let number): return (3000...4999).contains(number)
        default: return true
        }
    }

    // MARK: ChannelHandler

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        end()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if reading { context.read() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The handlers behind heard it at the takeover.
        end()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error as? NIOWebSocketError {
        case .invalidFrameLength: sendClose(.messageTooLarge, reason: "frames are limited to \(maximumMessageBytes) bytes")
        case .some: sendClose(.protocolError, reason: nil)
        case nil:
            logger.debug("WebSocket closed on an error", metadata: ["error": "\(error)"])
            closeConnection()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            // The server is shutting down.
            sendClose(.goingAway, reason: nil)
        } else if let event = event as? ChannelEvent, event == .inputClosed {
            // The client closed its side.
            closeConnection()
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // From the handlers behind, which no longer own the socket.
        promise?.succeed()
    }

    func flush(context: ChannelHandlerContext) {}

    /// Reads are asked for in `channelReadComplete`, as long as the service keeps up.
    func read(context: ChannelHandlerContext) {}

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        promise?.succeed()
    }
}
