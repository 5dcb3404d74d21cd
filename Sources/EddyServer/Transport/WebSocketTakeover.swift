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
/// What to do with each frame, beat and close is `WebSocketTakeoverStateMachine`'s decision; this
/// handler turns NIO's callbacks into its events and performs the actions it returns.
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

    /// What an attached service keeps on the socket.
    struct Attachment {
        let service: Service
        /// Writes the service's messages.
        let handoff: EventStreamHandoff
        let pinging: KeepAliveTicker.Registration
    }

    typealias Machine = WebSocketTakeoverStateMachine<Attachment>
    /// A complete message from the client.
    typealias Message = Machine.Message
    /// Messages the handlers behind took before the takeover (only on a pipeline it was not
    /// adopted into); they are served first.
    typealias Earlier = Message

    private let eventLoop: any EventLoop
    private let logger: Logger
    private var context: ChannelHandlerContext?
    /// Not checked for exclusive access at run time, for the reason `EventStreamHandoff`'s
    /// machine is not: a value that returns actions, touched only on the loop.
    @exclusivity(unchecked) private var machine: Machine

    private init(eventLoop: any EventLoop, maximumMessageBytes: Int, logger: Logger) {
        self.eventLoop = eventLoop
        self.machine = Machine(maximumMessageBytes: maximumMessageBytes)
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
            guard let takeover = try? pipeline.handler(type: WebSocketTakeover.self), let context = takeover.context else { return nil }
            let attachment = Attachment(service: service, handoff: handoff, pinging: pinger.register(takeover))
            switch takeover.machine.attach(attachment, maximumMessageBytes: maximumMessageBytes) {
            case .attached: break
            case .refused:
                attachment.pinging.cancel()
                return nil
            case .invalidTransition(let invalid):
                invalid.report()
                attachment.pinging.cancel()
                return nil
            }
            // To the handlers behind, the connection is over: their stream ends, and what they
            // still write fails at once rather than waiting. Not by an inactive channel:
            // hummingbird-websocket would then close the channel and wait for it to be closed,
            // keeping the connection's task and its memory for the socket's life. With its output
            // closed, its closing frame fails and the task ends.
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            context.fireUserInboundEventTriggered(ChannelEvent.outputClosed)
            return takeover
        }.get()
    }

    /// Serves the messages taken before the takeover, then everything after.
    func start(after earlier: [Earlier]) {
        eventLoop.execute {
            switch self.machine.start(after: earlier) {
            case .none: break
            case .dispatch(let attachment): self.dispatch(to: attachment.service)
            case .invalidTransition(let invalid): invalid.report()
            }
        }
    }

    /// Closes the socket once the messages posted before are written: normally, or with 1008
    /// when the client did not read them.
    func closeAfterMessages(tooSlow: Bool) {
        eventLoop.execute {
            switch self.machine.closeAfterMessagesRequested() {
            case .none: break
            case .release(let attachment):
                attachment.handoff.releaseWebSocket().whenComplete { _ in
                    self.perform(self.machine.messagesReleased(tooSlow: tooSlow, now: .now()))
                }
            case .invalidTransition(let invalid): invalid.report()
            }
        }
    }

    func keepAliveBeat() {
        eventLoop.execute {
            guard self.context != nil else { return }
            switch self.machine.keepAliveBeat(now: .now()) {
            case .none: break
            case .ping: self.write(WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer(string: "eddy")))
            case .sendCloseAndCloseConnection(let close):
                self.send(close)
                self.closeConnection()
            case .invalidTransition(let invalid): invalid.report()
            }
        }
    }

    // MARK: Performing the machine's actions

    private func perform(_ action: Machine.FrameAction) {
        switch action {
        case .none: break
        case .pong(let data): write(WebSocketFrame(fin: true, opcode: .pong, data: data))
        case .dispatch(let attachment): dispatch(to: attachment.service)
        case .sendClose(let close): send(close)
        case .sendCloseAndCloseConnection(let close):
            send(close)
            closeConnection()
        case .cutOffForNotReading(let close):
            // Closes at once: the client reads nothing, so it would not read our close frame
            // either, and what waits for it in the outbound buffer is released with the channel.
            logger.notice("WebSocket closed: the client does not read the replies to its frames")
            send(close)
            closeConnection()
        case .closeConnection: closeConnection()
        }
    }

    private func perform(_ action: Machine.CloseAction) {
        if case .sendClose(let close) = action { send(close) }
    }

    private func dispatch(to service: Service) {
        let eventLoop = self.eventLoop
        Task {
            while let message = try? await eventLoop.submit({ self.nextMessage() }).get() {
                switch message {
                case .text(let text): await service.text(text)
                case .nonText: service.nonText()
                }
            }
        }
    }

    private func nextMessage() -> Message? {
        switch machine.nextMessage() {
        case .none: return nil
        case .message(let message, let readAgain):
            if readAgain { context?.read() }
            return message
        case .invalidTransition(let invalid):
            invalid.report()
            return nil
        }
    }

    private func write(_ frame: WebSocketFrame) {
        context?.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    /// Sends our close frame; the connection closes on the client's reply, or at its deadline.
    private func send(_ close: Machine.Close) {
        guard let context else { return }
        var data = ByteBuffer()
        data.write(webSocketErrorCode: close.code)
        if let reason = close.reason { data.writeString(reason) }
        write(WebSocketFrame(fin: true, opcode: .connectionClose, data: data))
        scheduleClose(at: close.deadline, context)
    }

    private func scheduleClose(at deadline: NIODeadline, _ context: ChannelHandlerContext) {
        context.eventLoop.scheduleTask(deadline: deadline) {
            switch self.machine.closeDeadlinePassed() {
            case .none: break
            case .closeConnection: self.closeConnection()
            case .invalidTransition(let invalid):
                invalid.report()
                self.closeConnection()
            }
        }
    }

    private func closeConnection() {
        context?.close(promise: nil)
    }

    private func end() {
        guard case .end(let attachment) = machine.closed(), let attachment else { return }
        attachment.pinging.cancel()
        attachment.service.ended()
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
        perform(machine.frameReceived(unwrapInboundIn(data), outputWritable: context.channel.isWritable, now: .now()))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if machine.readsMore { context.read() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The handlers behind heard it at the takeover.
        end()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error as? NIOWebSocketError {
        case .invalidFrameLength: perform(machine.decodingFailed(frameTooLarge: true, now: .now()))
        case .some: perform(machine.decodingFailed(frameTooLarge: false, now: .now()))
        case nil:
            logger.debug("WebSocket closed on an error", metadata: ["error": "\(error)"])
            closeConnection()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            // The server is shutting down.
            perform(machine.quiesce(now: .now()))
        } else if let event = event as? ChannelEvent, event == .inputClosed {
            // The client closed its side.
            closeConnection()
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // From the handlers behind: dropped once they no longer own the socket.
        switch machine.outboundWrite(isClose: unwrapOutboundIn(data).opcode == .connectionClose, now: .now()) {
        case .drop: promise?.succeed()
        case .forward: context.write(data, promise: promise)
        case .forwardClose(let deadline):
            // Their close (a service refusing the socket): the client's reply ends the connection.
            scheduleClose(at: deadline, context)
            context.write(data, promise: promise)
        }
    }

    func flush(context: ChannelHandlerContext) {
        if machine.handlersBehindOwnOutput { context.flush() }
    }

    /// Reads are asked for in `channelReadComplete`, as long as the service keeps up.
    func read(context: ChannelHandlerContext) {}

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard machine.handlersBehindOwnOutput else {
            promise?.succeed()
            return
        }
        context.close(mode: mode, promise: promise)
    }
}
