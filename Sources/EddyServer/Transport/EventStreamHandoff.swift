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
/// `send` and `finish` may be called from any thread (hub publishers, the keep-alive ticker);
/// every other member is confined to the event loop, which is what makes it `Sendable`.
final class EventStreamHandoff: ChannelDuplexHandler, RemovableChannelHandler, KeepAliveListener, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        /// An ordinary HTTP connection, for now.
        case idle
        /// A stream has claimed the connection; its frames wait in `Opening.pending` until the
        /// response head has gone out through the HTTP encoder.
        case claimed
        case streaming
        case ended
        /// An upgraded WebSocket whose text messages are written from here as ready-made
        /// frames; everything else (the socket's own control frames, reads) passes through.
        case webSocket
        /// The WebSocket's messages have ended; the socket itself is left to its handler.
        case webSocketReleased
    }

    /// What the response needs once it is written from here.
    struct Start {
        let first: ByteBuffer?
        let keepAliveFrame: ByteBuffer
        let ticker: KeepAliveTicker
        let endAt: NIODeadline?
        let started: EventLoopPromise<Void>
    }

    private var phase = Phase.idle
    private var context: ChannelHandlerContext?
    /// The mailbox of the connection's event loop.
    private let mailbox: FrameMailbox
    /// Frames were written since the last flush.
    private var unflushed = false
    /// Where the mailbox's drain `drain` gathers this stream's bytes (drains count from 1).
    var gatherSlot: (drain: UInt, index: Int) = (0, 0)
    /// Kept apart, and only while claimed, so that every connection carries less.
    private final class Opening {
        var pending: [ByteBuffer] = []
        /// Set when the stream was finished before it started, with its last frame if any.
        var finishing = false
        var lastFrame: ByteBuffer?
        var start: Start?
        var headSeen = false
    }

    private var opening: Opening?
    /// Whether the response head announced chunked framing (Hummingbird's always does for a
    /// body of unknown length); without it the body would end at close.
    private var chunked = true
    private var keepAliveFrame = ByteBuffer()
    private var keepAlive: KeepAliveTicker.Registration?
    private var endTimer: Scheduled<Void>?
    private var onEnd: (@Sendable () -> Void)?

    private var capacity = 0
    /// Frames accepted by `send` and not yet handed to the channel.
    private let backlog = Atomic<Int>(0)
    /// The channel's writability, readable from any thread without holding the channel.
    private let writable = Atomic<Bool>(true)

    private static let eventLoopLagFactor = 16
    private static let lastChunk = ByteBuffer(string: "0\r\n\r\n")

    init(mailbox: FrameMailbox) {
        self.mailbox = mailbox
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        writable.store(context.channel.isWritable, ordering: .relaxed)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
        self.context = nil
    }

    // MARK: Claiming

    /// Claims `channel` for one event stream, when it is an HTTP/1.1 connection with this
    /// handler (not an HTTP/2 stream) and nothing claimed it before.
    static func claim(_ channel: any Channel, capacity: Int) async -> EventStreamHandoff? {
        await claim(channel, as: .claimed, capacity: capacity)
    }

    /// Claims an upgraded WebSocket `channel` so that its text messages are written from here
    /// (see `WebSocketFrames`); nil when the connection has no such handler (HTTP/2, tests).
    static func claimWebSocket(_ channel: any Channel, capacity: Int) async -> EventStreamHandoff? {
        await claim(channel, as: .webSocket, capacity: capacity)
    }

    private static func claim(_ channel: any Channel, as phase: Phase, capacity: Int) async -> EventStreamHandoff? {
        try? await channel.eventLoop.submit { () -> EventStreamHandoff? in
            guard let handler = try? channel.pipeline.syncOperations.handler(type: EventStreamHandoff.self),
                handler.phase == .idle, channel.isActive
            else { return nil }
            handler.phase = phase
            if phase == .claimed { handler.opening = Opening() }
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
            if handler.phase == .ended { onEnd() } else { handler.onEnd = onEnd }
        }
    }

    /// Writes the stream from here on; called from the response body once the head is written.
    func takeOver(first: ByteBuffer?, keepAliveFrame: ByteBuffer, ticker: KeepAliveTicker, endAt: NIODeadline?) async throws {
        let eventLoop = mailbox.eventLoop
        let started = eventLoop.makePromise(of: Void.self)
        let start = Start(first: first, keepAliveFrame: keepAliveFrame, ticker: ticker, endAt: endAt, started: started)
        execute { handler in
            guard handler.phase == .claimed, let opening = handler.opening else {
                start.started.succeed()
                return
            }
            opening.start = start
            // Normally the head went through already: the response writer's hop came first.
            if opening.headSeen { handler.beginStreaming() }
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

    /// The bytes of a keep-alive for a started stream that is keeping up, if it gets one.
    func keepAliveBytes(framing: inout ChunkFraming) -> ByteBuffer? {
        guard phase == .streaming, let context, context.channel.isWritable else { return nil }
        return chunked ? framing.chunk(for: keepAliveFrame) : keepAliveFrame
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
        switch phase {
        case .claimed:
            opening?.pending.append(frame)
            return nil
        case .streaming, .webSocket:
            backlog.wrappingSubtract(1, ordering: .relaxed)
            guard context != nil, frame.readableBytes > 0 else { return nil }
            return chunked && phase == .streaming ? framing.chunk(for: frame) : frame
        case .idle, .ended, .webSocketReleased:
            backlog.wrappingSubtract(1, ordering: .relaxed)
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
        switch phase {
        case .claimed:
            guard let opening, !opening.finishing else { return }
            opening.finishing = true
            opening.lastFrame = last
        case .streaming: end(last: last)
        case .webSocket: phase = .webSocketReleased
        case .idle, .ended, .webSocketReleased: break
        }
    }

    private func beginStreaming() {
        guard let opening, let start = opening.start, let context else { return }
        self.opening = nil
        phase = .streaming
        keepAliveFrame = start.keepAliveFrame
        if let first = start.first { writeFrame(first, context) }
        for frame in opening.pending { writeFrame(frame, context) }
        backlog.wrappingSubtract(opening.pending.count, ordering: .relaxed)
        start.started.succeed()
        if opening.finishing {
            end(last: opening.lastFrame)
            return
        }
        unflushed = false
        context.flush()
        keepAlive = start.ticker.register(self)
        if let endAt = start.endAt {
            endTimer = context.eventLoop.scheduleTask(deadline: endAt) { self.finishStream(last: nil) }
        }
        removeHTTPHandlers(context)
        // The request's reader is gone; read on, so a client that leaves is noticed.
        context.read()
    }

    /// Ends a started stream: the last frame, the end of the body, and the connection.
    private func end(last: ByteBuffer?) {
        guard let context else { return stop() }
        if let last { writeFrame(last, context) }
        if chunked { context.write(wrapOutboundOut(Self.lastChunk), promise: nil) }
        stop()
        unflushed = false
        context.flush()
        context.close(promise: nil)
    }

    /// Releases what feeds the stream; nothing more is written.
    private func stop() {
        if phase == .webSocket { phase = .webSocketReleased }
        if phase == .claimed || phase == .streaming { phase = .ended }
        guard phase == .ended else { return }
        keepAlive?.cancel()
        keepAlive = nil
        endTimer?.cancel()
        endTimer = nil
        if let opening {
            backlog.wrappingSubtract(opening.pending.count, ordering: .relaxed)
            opening.start?.started.succeed()
            self.opening = nil
        }
        let onEnd = self.onEnd
        self.onEnd = nil
        onEnd?()
    }

    /// Writes a frame outside a mailbox drain (the first ones, keep-alives, the last one).
    private func writeFrame(_ frame: ByteBuffer, _ context: ChannelHandlerContext) {
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
        switch phase {
        case .idle, .claimed, .webSocket, .webSocketReleased: context.fireChannelRead(data)
        case .streaming, .ended: break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        switch phase {
        case .idle, .claimed, .webSocket, .webSocketReleased: context.fireChannelReadComplete()
        case .streaming: context.read()
        case .ended: break
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writable.store(context.channel.isWritable, ordering: .relaxed)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        writable.store(false, ordering: .relaxed)
        stop()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, phase == .claimed || phase == .streaming {
            // The server is shutting down: end the stream cleanly so it drains.
            finishStream(last: nil)
        } else if phase == .streaming, let event = event as? ChannelEvent, event == .inputClosed {
            // The client closed its side: it is gone.
            end(last: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch phase {
        case .idle, .webSocket, .webSocketReleased:
            context.write(data, promise: promise)
        case .claimed:
            if let opening, !opening.headSeen {
                opening.headSeen = true
                chunked = Self.isChunked(head: unwrapOutboundIn(data))
            }
            context.write(data, promise: promise)
            if opening?.start != nil { beginStreaming() }
        case .streaming, .ended:
            // The request's task no longer owns the connection.
            promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    func flush(context: ChannelHandlerContext) {
        switch phase {
        case .idle, .claimed, .webSocket, .webSocketReleased: context.flush()
        case .streaming, .ended: break
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        switch phase {
        case .idle, .claimed, .webSocket, .webSocketReleased:
            context.close(mode: mode, promise: promise)
        case .streaming, .ended:
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
