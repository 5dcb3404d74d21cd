import Logging
import NIOCore
import NIOWebSocket

/// Serves an upgraded WebSocket from its pipeline (issue #7): an idle socket holds no task, and
/// none of the memory a task's allocator grew to during the upgrade.
///
/// It is put right behind the frame decoder at the upgrade itself (`adopt`), before the first
/// frame is decoded, so every client frame is checked here (RFC 6455 §5: masked, no reserved
/// bits, known opcodes, else 1002), pings are answered, fragments joined, and text checked as
/// UTF-8 — also the frames a client sends in the same packet as its upgrade request. Messages
/// wait (a bounded number; then the socket is not read) until the socket's service `attach`es,
/// and are then handed to it one at a time (with a task only while messages wait).
///
/// The handlers behind (hummingbird-websocket's) never see a frame. Until the service attaches,
/// what they write or close passes through (a service that refuses the socket closes it that
/// way); from then on they are told that input and output are closed, and whatever they still
/// write, flush or close is dropped. The service's messages go out through the connection's
/// `EventStreamHandoff`, as ready-made frames; replies to the client's control frames go out
/// from here, and count against the same bound: a client that sends pings without reading the
/// pongs is cut off once the channel stops being writable, as one that does not read its messages.
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

    /// A complete message from the client.
    enum Message: Sendable {
        case text(String)
        case nonText
    }

    /// Messages the handlers behind took before the takeover (only on a pipeline it was not
    /// adopted into); they are served first.
    typealias Earlier = Message

    private let eventLoop: any EventLoop
    private var maximumMessageBytes: Int
    private let logger: Logger
    private var context: ChannelHandlerContext?
    /// Set when the service attaches.
    private var service: Service?
    private var handoff: EventStreamHandoff?

    private var fragments: ByteBuffer?
    private var fragmentsAreText = false
    /// Messages waiting for the service, and whether a task is taking them.
    private var pending: [Message] = []
    private var dispatching = false
    /// False until the service has attached and the earlier messages are in `pending`.
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

    private init(eventLoop: any EventLoop, maximumMessageBytes: Int, logger: Logger) {
        self.eventLoop = eventLoop
        self.maximumMessageBytes = maximumMessageBytes
        self.logger = logger
    }

    /// Puts a takeover behind the frame decoder of a channel that has just been upgraded, before
    /// the bytes that came with the upgrade request are decoded. On the event loop.
    static func adopt(_ pipeline: ChannelPipeline, maximumMessageBytes: Int, logger: Logger) {
        let operations = pipeline.syncOperations
        guard let decoder = try? operations.context(handlerType: ByteToMessageHandler<WebSocketFrameDecoder>.self) else { return }
        let takeover = WebSocketTakeover(eventLoop: pipeline.eventLoop, maximumMessageBytes: maximumMessageBytes, logger: logger)
        guard (try? operations.addHandler(takeover, position: .after(decoder.handler))) != nil else { return }
        // Reads are asked for from here now: the handlers behind would hold theirs back.
        takeover.context?.read()
    }

    /// Hands `channel`'s socket to its service, taking it over from the handlers behind its frame
    /// decoder if no takeover was adopted at the upgrade. Nil when the pipeline is not an
    /// upgraded WebSocket's.
    static func attach(
        on channel: any Channel, handoff: EventStreamHandoff, maximumMessageBytes: Int, pinger: KeepAliveTicker, service: Service,
        logger: Logger
    ) async -> WebSocketTakeover? {
        try? await channel.eventLoop.submit { () -> WebSocketTakeover? in
            let pipeline = channel.pipeline.syncOperations
            guard channel.isActive else { return nil }
            if (try? pipeline.handler(type: WebSocketTakeover.self)) == nil {
                adopt(channel.pipeline, maximumMessageBytes: maximumMessageBytes, logger: logger)
            }
            guard let takeover = try? pipeline.handler(type: WebSocketTakeover.self), let context = takeover.context, !takeover.ended
            else { return nil }
            takeover.service = service
            takeover.handoff = handoff
            takeover.maximumMessageBytes = maximumMessageBytes
            // To the handlers behind, the connection is over: their stream ends, and what they
            // still write fails at once rather than waiting. Not by an inactive channel:
            // hummingbird-websocket would then close the channel and wait for it to be closed,
            // keeping the connection's task and its memory for the socket's life. With its output
            // closed, its closing frame fails and the task ends.
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            context.fireUserInboundEventTriggered(ChannelEvent.outputClosed)
            takeover.pinging = pinger.register(takeover)
            return takeover
        }.get()
    }

    /// Serves the messages taken before the takeover, then everything after.
    func start(after earlier: [Earlier]) {
        eventLoop.execute {
            self.pending.insert(contentsOf: earlier, at: 0)
            self.started = true
            self.dispatchIfNeeded()
        }
    }

    /// Closes the socket once the messages posted before are written: normally, or with 1008
    /// when the client did not read them.
    func closeAfterMessages(tooSlow: Bool) {
        eventLoop.execute {
            guard let handoff = self.handoff else { return self.sendClose(.normalClosure, reason: nil) }
            handoff.releaseWebSocket().whenComplete { _ in
                if tooSlow {
                    self.sendClose(.policyViolation, reason: "too slow: messages were not read")
                } else {
                    self.sendClose(.normalClosure, reason: nil)
                }
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
        if let refusal = Self.protocolViolation(in: frame) { return sendClose(.protocolError, reason: refusal) }
        switch frame.opcode {
        case .connectionClose:
            if closing { return closeConnection() }
            var data = frame.unmaskedData
            let code = data.readInteger(as: UInt16.self).map { WebSocketErrorCode(codeNumber: Int($0)) }
            // Echo a valid code back, as RFC 6455 §5.5.1 has it, and close.
            sendClose(code.flatMap { Self.isEchoable($0) ? $0 : nil } ?? .normalClosure, reason: nil)
            closeConnection()
        case .ping:
            guard !closing, let context else { return }
            // Pongs wait in the same outbound buffer as the service's messages: a client that
            // pings without reading the pongs is as slow as one that does not read its messages.
            guard context.channel.isWritable else { return cutOffForNotReading() }
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

    /// Why RFC 6455 §5 has the server fail the connection on `frame`, if it does.
    static func protocolViolation(in frame: WebSocketFrame) -> String? {
        // §5.1: a client masks every frame.
        guard frame.maskKey != nil else { return "client frames must be masked" }
        // §5.2: no extension is negotiated, so no reserved bit may be set.
        guard frame.reservedBits.isEmpty else { return "reserved bits set" }
        switch frame.opcode {
        case .text, .binary, .continuation: return nil
        // §5.5: control frames are never fragmented.
        case .connectionClose, .ping, .pong: return frame.fin ? nil : "a fragmented control frame"
        default: return "unknown opcode"
        }
    }

    private func complete(_ message: ByteBuffer, isText: Bool) {
        if isText {
            guard let text = String(validating: message.readableBytesView, as: UTF8.self) else {
                return sendClose(.dataInconsistentWithMessage, reason: "text is not UTF-8")
            }
            pending.append(.text(text))
        } else {
            pending.append(.nonText)
        }
        if pending.count >= Self.pendingLimit { reading = false }
        dispatchIfNeeded()
    }

    private func dispatchIfNeeded() {
        guard started, !dispatching, !ended, !pending.isEmpty, let service else { return }
        dispatching = true
        let eventLoop = self.eventLoop
        Task {
            while let message = try? await eventLoop.submit({ self.nextPending() }).get() {
                switch message {
                case .text(let text): await service.text(text)
                case .nonText: service.nonText()
                }
            }
        }
    }

    private func nextPending() -> Message? {
        guard !ended, !pending.isEmpty else {
            dispatching = false
            return nil
        }
        let message = pending.removeFirst()
        if !reading, pending.count <= Self.pendingLimit / 2 {
            reading = true
            context?.read()
        }
        return message
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

    /// Closes at once: the client reads nothing, so it would not read our close frame either,
    /// and what waits for it in the outbound buffer is released with the channel.
    private func cutOffForNotReading() {
        logger.notice("WebSocket closed: the client does not read the replies to its frames")
        sendClose(.policyViolation, reason: "too slow: replies were not read")
        closeConnection()
    }

    private func end() {
        guard !ended else { return }
        ended = true
        pending.removeAll()
        pinging?.cancel()
        pinging = nil
        service?.ended()
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
        // From the handlers behind: dropped once they no longer own the socket.
        guard service == nil else {
            promise?.succeed()
            return
        }
        if unwrapOutboundIn(data).opcode == .connectionClose, !closing {
            // Their close (a service refusing the socket): the client's reply ends the connection.
            closing = true
            context.eventLoop.scheduleTask(in: Self.closeTimeout) { self.closeConnection() }
        }
        context.write(data, promise: promise)
    }

    func flush(context: ChannelHandlerContext) {
        if service == nil { context.flush() }
    }

    /// Reads are asked for in `channelReadComplete`, as long as the service keeps up.
    func read(context: ChannelHandlerContext) {}

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard service == nil else {
            promise?.succeed()
            return
        }
        context.close(mode: mode, promise: promise)
    }
}
