import HummingbirdCore
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import Synchronization

/// Sits in each HTTP/1.1 connection's pipeline in front of the HTTP codec and passes everything
/// through until an event-stream response claims the connection. From then on the stream is
/// written from here, on the connection's event loop: the HTTP handlers behind it are removed
/// and the request's task ends, so an idle stream costs this object, its hub registrations and
/// the socket — no task, no AsyncStream, no decoder buffers (issue #7: a few KiB per stream).
/// Nothing more is read from a stream's connection: HTTP pipelining after an event stream is
/// not supported, and the connection closes when the stream ends. An upgraded WebSocket can
/// claim it too: its text messages are then written from here as ready-made frames, beside
/// the socket's own handler (`SocketOutbox`).
///
/// Which of these the connection is, and the data of that state, is `EventStreamHandoffStateMachine`'s:
/// this handler turns NIO's callbacks and the mailbox's deliveries into its events and performs
/// the actions it returns. What stays here is the connection's I/O and the counters `send` reads
/// from other threads.
///
/// `send` and `finish` may be called from any thread (hub publishers, the keep-alive ticker);
/// every other member is confined to the event loop, which is what makes it `Sendable`.
final class EventStreamHandoff: ChannelDuplexHandler, RemovableChannelHandler, KeepAliveListener, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    typealias Machine = EventStreamHandoffStateMachine

    /// Confined to the event loop, as everything here but the atomics. Unchecked for exclusive
    /// access: a value whose methods return actions, never call back, so no two accesses overlap
    /// (the check cost about 100 instructions per delivery: benchmark-log, seventeenth series).
    @exclusivity(unchecked) private var machine = Machine()
    private var context: ChannelHandlerContext?
    /// The mailbox of the connection's event loop.
    private let mailbox: FrameMailbox
    /// Frames were written since the last flush.
    private var unflushed = false
    /// Where drain `drain` gathers this stream's bytes (from 1); only read and assigned whole.
    @exclusivity(unchecked) var gatherSlot: (drain: UInt, index: Int) = (0, 0)

    private var capacity = 0
    /// Frames accepted by `send` and not yet handed to the channel.
    private let backlog = Atomic<Int>(0)
    /// The channel's writability, readable from any thread without holding the channel.
    private let writable = Atomic<Bool>(true)

    private static let eventLoopLagFactor = 16
    private static let lastChunk = ByteBuffer(string: "0\r\n\r\n")
    /// How long an ended stream's last bytes may wait for its client: as long as a WebSocket
    /// waits for its client's close (`WebSocketTakeoverStateMachine.closeTimeout`).
    static let finalBytesTimeout = TimeAmount.seconds(10)

    init(mailbox: FrameMailbox) {
        self.mailbox = mailbox
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        writable.store(context.channel.isWritable, ordering: .relaxed)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if let release = machine.closed() { perform(release) }
        self.context = nil
    }

    // MARK: Claiming

    /// Claims `channel` for one event stream, when it is an HTTP/1.1 connection with this
    /// handler (not an HTTP/2 stream) and nothing claimed it before.
    static func claim(_ channel: any Channel, capacity: Int) async -> EventStreamHandoff? {
        await claim(channel, forWebSocket: false, capacity: capacity)
    }

    /// Claims an upgraded WebSocket `channel` so that its text messages are written from here
    /// (see `WebSocketFrames`); nil when the connection has no such handler (HTTP/2, tests).
    static func claimWebSocket(_ channel: any Channel, capacity: Int) async -> EventStreamHandoff? {
        await claim(channel, forWebSocket: true, capacity: capacity)
    }

    private static func claim(_ channel: any Channel, forWebSocket: Bool, capacity: Int) async -> EventStreamHandoff? {
        try? await channel.eventLoop.submit { () -> EventStreamHandoff? in
            guard let handler = try? channel.pipeline.syncOperations.handler(type: EventStreamHandoff.self), channel.isActive,
                handler.machine.claim(forWebSocket: forWebSocket)
            else { return nil }
            handler.capacity = capacity
            return handler
        }.get()
    }

    /// Stops writing a claimed WebSocket's messages once those posted before are written;
    /// whoever serves the socket closes it then.
    func releaseWebSocket() -> EventLoopFuture<Void> {
        let released = mailbox.eventLoop.makePromise(of: Void.self)
        mailbox.post(.release(released), to: self)
        return released.futureResult
    }

    /// Runs `onEnd` once the stream is over, however it ends (now, if it already has).
    func whenEnded(_ onEnd: @escaping @Sendable () -> Void) {
        execute { handler in
            switch handler.machine.whenEnded(onEnd) {
            case .stored: break
            case .runNow: onEnd()
            case .invalidTransition(let invalid):
                invalid.report()
                onEnd()
            }
        }
    }

    /// Writes the stream from here on; called from the response body once the head is written.
    func takeOver(first: ByteBuffer?, keepAliveFrame: ByteBuffer, ticker: KeepAliveTicker, endAt: NIODeadline?) async throws {
        let eventLoop = mailbox.eventLoop
        let started = eventLoop.makePromise(of: Void.self)
        let start = Machine.Start(first: first, keepAliveFrame: keepAliveFrame, ticker: ticker, endAt: endAt, started: started)
        execute { handler in
            switch handler.machine.takeOver(start) {
            case .wait: break
            case .begin(let begin): handler.perform(begin)
            case .alreadyEnded: start.started.succeed()
            case .invalidTransition(let invalid):
                invalid.report()
                start.started.succeed()
            }
        }
        try await started.futureResult.get()
    }

    // MARK: Frames (any thread)

    /// Queues a frame; false when the client is not reading fast enough (the caller then drops it).
    func send(_ frame: ByteBuffer) -> Bool {
        let queued = backlog.wrappingAdd(1, ordering: .relaxed).newValue
        // Frames waiting for the event loop measure how far behind the server is, not the
        // client: they get a wider bound. A client that does not read shows as an unwritable channel.
        guard queued <= capacity * Self.eventLoopLagFactor, writable.load(ordering: .relaxed) else {
            backlog.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        mailbox.post(.frame(frame), to: self)
        return true
    }

    /// Ends the stream after what was queued and `last`.
    func finish(last: ByteBuffer? = nil) {
        mailbox.post(.finish(last: last), to: self)
    }

    /// Through the mailbox, like the frames: one task per loop per beat, not one per stream.
    func keepAliveBeat() {
        mailbox.post(.keepAlive, to: self)
    }

    private func execute(_ body: @escaping @Sendable (EventStreamHandoff) -> Void) {
        let eventLoop = mailbox.eventLoop
        if eventLoop.inEventLoop {
            body(self)
        } else {
            eventLoop.execute { body(self) }
        }
    }

    // MARK: Event loop (called by the mailbox)

    /// Takes one posted frame: the bytes to put on the wire for it (chunked where the stream is),
    /// or nil when nothing is to be written now.
    func wireBytes(for frame: ByteBuffer, framing: inout ChunkFraming) -> ByteBuffer? {
        switch machine.frameArrived(frame) {
        case .held:
            return nil
        case .write(let chunked):
            backlog.wrappingSubtract(1, ordering: .relaxed)
            guard context != nil, frame.readableBytes > 0 else { return nil }
            return chunked ? framing.chunk(for: frame) : frame
        case .drop:
            backlog.wrappingSubtract(1, ordering: .relaxed)
            return nil
        case .invalidTransition(let invalid):
            invalid.report()
            backlog.wrappingSubtract(1, ordering: .relaxed)
            return nil
        }
    }

    /// The bytes of a keep-alive for a started stream that is keeping up, if it gets one.
    func keepAliveBytes(framing: inout ChunkFraming) -> ByteBuffer? {
        guard let context else { return nil }
        switch machine.keepAliveDue(outputWritable: context.channel.isWritable) {
        case .none: return nil
        case .write(let frame, let chunked): return chunked ? framing.chunk(for: frame) : frame
        case .invalidTransition(let invalid):
            invalid.report()
            return nil
        }
    }

    /// Writes what the mailbox gathered for this stream; true when the stream has to be flushed
    /// now and was not before.
    func writeGathered(_ bytes: ByteBuffer) -> Bool {
        guard let context else { return false }
        context.write(wrapOutboundOut(bytes), promise: nil)
        defer { unflushed = true }
        return !unflushed
    }

    /// Writes `bytes` and flushes the stream, in one pass down the pipeline.
    func writeAndFlush(_ bytes: ByteBuffer) {
        guard let context else { return }
        unflushed = false
        context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
    }

    func flushWritten() {
        guard unflushed else { return }
        unflushed = false
        context?.flush()
    }

    func finishStream(last: ByteBuffer?) {
        perform(machine.finishRequested(last: last))
    }

    func releaseStream() {
        switch machine.releaseRequested() {
        case .none: break
        case .invalidTransition(let invalid): invalid.report()
        }
    }

    // MARK: Performing the machine's actions

    private func perform(_ action: Machine.FinishAction) {
        switch action {
        case .none: break
        case .end(let end): perform(end)
        case .invalidTransition(let invalid): invalid.report()
        }
    }

    private func perform(_ action: Machine.BeginAction) {
        switch action {
        case .none: break
        case .begin(let begin): perform(begin)
        case .invalidTransition(let invalid): invalid.report()
        }
    }

    private func perform(_ begin: Machine.Begin) {
        backlog.wrappingSubtract(begin.pending.count, ordering: .relaxed)
        guard let context else {
            begin.started.succeed()
            return
        }
        if let first = begin.first { writeFrame(first, chunked: begin.chunked, context) }
        for frame in begin.pending { writeFrame(frame, chunked: begin.chunked, context) }
        begin.started.succeed()
        if let end = begin.end { return perform(end) }
        unflushed = false
        context.flush()
        let keepAlive = begin.ticker.register(self)
        let endTimer = begin.endAt.map { endAt in
            context.eventLoop.scheduleTask(deadline: endAt) { self.finishStream(last: nil) }
        }
        switch machine.armed(keepAlive: keepAlive, endTimer: endTimer) {
        case .none: break
        case .cancel(let release): perform(release)
        case .invalidTransition(let invalid, let release):
            invalid.report()
            perform(release)
        }
        removeHTTPHandlers(context)
        // The request's reader is gone; read on, so a client that leaves is noticed.
        context.read()
    }

    private func perform(_ end: Machine.End) {
        guard let context else { return perform(end.release) }
        if let last = end.last { writeFrame(last, chunked: end.chunked, context) }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.write(wrapOutboundOut(end.chunked ? Self.lastChunk : ByteBuffer()), promise: written)
        perform(end.release)
        unflushed = false
        context.flush()
        // Closing now would discard what still waits in the outbound buffer, the last frame
        // with it: a client that fell behind (`tooSlow`) would never read why its stream ended.
        // The close waits for those bytes, as a WebSocket's waits for the client's reply, but no
        // longer than a client that reads nothing more may hold them.
        let closing = NIOLoopBound(context, eventLoop: context.eventLoop)
        let deadline = context.eventLoop.scheduleTask(in: Self.finalBytesTimeout) { closing.value.close(promise: nil) }
        written.futureResult.whenComplete { _ in
            deadline.cancel()
            closing.value.close(promise: nil)
        }
    }

    private func perform(_ release: Machine.Release) {
        release.keepAlive?.cancel()
        release.endTimer?.cancel()
        if release.droppedFrames > 0 { backlog.wrappingSubtract(release.droppedFrames, ordering: .relaxed) }
        release.started?.succeed()
        release.onEnd?()
    }

    /// Writes a frame outside a mailbox drain (the first ones, keep-alives, the last one).
    private func writeFrame(_ frame: ByteBuffer, chunked: Bool, _ context: ChannelHandlerContext) {
        guard frame.readableBytes > 0 else { return }
        var framing = ChunkFraming()
        context.write(wrapOutboundOut(chunked ? framing.chunk(for: frame) : frame), promise: nil)
        unflushed = true
    }

    /// The HTTP codec and its helpers hold parser state and buffers a stream never uses again.
    private func removeHTTPHandlers(_ context: ChannelHandlerContext) {
        let pipeline = context.pipeline.syncOperations
        func remove<Handler: RemovableChannelHandler>(_ type: Handler.Type) {
            if let found = try? pipeline.context(handlerType: type) { pipeline.removeHandler(context: found, promise: nil) }
        }
        remove(HTTPConnectionStateHandler.self)
        remove(HeaderLimitHandler.self)
        remove(BodyTimeoutHandler.self)
        remove(HTTP1ToHTTPServerCodec.self)
        remove(HTTPResponseEncoder.self)
        guard let decoder = try? pipeline.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self) else { return }
        // The decoder hands bytes it still holds to whoever follows it on removal; those must
        // not reach the request reader, which expects parsed parts.
        let discard = DiscardInbound()
        guard (try? pipeline.addHandler(discard, position: .after(decoder.handler))) != nil else { return }
        let removed = context.eventLoop.makePromise(of: Void.self)
        pipeline.removeHandler(context: decoder, promise: removed)
        let loopBound = NIOLoopBound(pipeline, eventLoop: context.eventLoop)
        removed.futureResult.whenComplete { _ in loopBound.value.removeHandler(discard, promise: nil) }
    }

    // MARK: ChannelHandler

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .pipeline = machine.ownership { context.fireChannelRead(data) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        switch machine.ownership {
        case .pipeline: context.fireChannelReadComplete()
        case .stream: context.read()
        case .endedStream: break
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writable.store(context.channel.isWritable, ordering: .relaxed)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        writable.store(false, ordering: .relaxed)
        if let release = machine.closed() { perform(release) }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            // The server is shutting down: a stream ends cleanly so it drains.
            perform(machine.quiesce())
        } else if let event = event as? ChannelEvent, event == .inputClosed {
            perform(machine.inputClosed())
        }
        context.fireUserInboundEventTriggered(event)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch machine.outboundWrite() {
        case .forward:
            context.write(data, promise: promise)
        case .forwardHead:
            let chunked = Self.isChunked(head: unwrapOutboundIn(data))
            context.write(data, promise: promise)
            perform(machine.headWritten(chunked: chunked))
        case .fail:
            promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    func flush(context: ChannelHandlerContext) {
        if case .pipeline = machine.ownership { context.flush() }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if case .pipeline = machine.ownership {
            context.close(mode: mode, promise: promise)
        } else {
            // The request's task closing what it handed over: the stream closes it when it ends.
            promise?.succeed()
        }
    }

    /// Whether the encoded response head announces `Transfer-Encoding: chunked`.
    static func isChunked(head: ByteBuffer) -> Bool {
        let text = String(buffer: head).lowercased()
        guard let end = text.range(of: "\r\n\r\n") else { return true }
        return text[..<end.lowerBound].contains("transfer-encoding: chunked")
    }
}
