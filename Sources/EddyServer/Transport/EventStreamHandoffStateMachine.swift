import NIOCore

/// The life of one HTTP/1.1 connection as `EventStreamHandoff` sees it: an ordinary HTTP
/// connection until an event stream or an upgraded WebSocket claims it, then a stream whose
/// frames wait until the response head is out, then a stream written from the event loop, then
/// over. Each event returns what the handler is to do; the machine itself writes nothing, reads
/// no clock and touches no channel, so every path is testable without a socket.
///
/// The data of each state lives in its case, so a connection carries only what its state needs:
/// an ordinary HTTP connection (every connection starts as one) holds no stream's data at all.
struct EventStreamHandoffStateMachine {
    /// What the response needs once it is written from the handoff.
    struct Start {
        let first: ByteBuffer?
        let keepAliveFrame: ByteBuffer
        let ticker: KeepAliveTicker
        let endAt: NIODeadline?
        let started: EventLoopPromise<Void>
    }

    /// A claimed stream that has not begun. A class, so that the state (and so every connection's
    /// handler) holds one reference for it, and frames append without copying the state.
    final class Opening {
        /// Frames that came before the stream began, written right after its first frame.
        var pending: [ByteBuffer] = []
        /// Set when the stream was finished before it began, with its last frame if any.
        var finishing = false
        var lastFrame: ByteBuffer?
        var start: Start?
        /// Nil until the response head went out; then whether it announced chunked framing
        /// (Hummingbird's always does for a body of unknown length; without it the body ends at close).
        var chunked: Bool?
        var onEnd: (@Sendable () -> Void)?
    }

    struct Streaming {
        let keepAliveFrame: ByteBuffer
        var keepAlive: KeepAliveTicker.Registration?
        var endTimer: Scheduled<Void>?
        var onEnd: (@Sendable () -> Void)?
    }

    enum State {
        /// An ordinary HTTP connection, for now.
        case idle
        /// An event stream has claimed the connection; its frames wait until the head is out.
        case claimed(Opening)
        /// `chunked` apart from the rest: every delivery reads it, and reading it alone copies
        /// nothing that would have to be retained.
        case streaming(chunked: Bool, Streaming)
        /// The event stream is over; nothing more is written or read.
        case ended
        /// An upgraded WebSocket whose text messages are written from the handoff as ready-made
        /// frames; everything else (the socket's own control frames, reads) passes through.
        case webSocket
        /// The WebSocket's messages have ended; the socket itself is left to its handler.
        case webSocketReleased
    }

    /// An event that edits a state's data in place parks the state on `.ended` meanwhile, so that the
    /// data is referenced once and not copied on write; it is never seen parked.
    private(set) var state = State.idle

    // MARK: Actions

    /// What lets go of a stream: nothing is written for it after this.
    struct Release {
        var keepAlive: KeepAliveTicker.Registration?
        var endTimer: Scheduled<Void>?
        var onEnd: (@Sendable () -> Void)?
        /// The response body waiting for the stream to begin, if it never did.
        var started: EventLoopPromise<Void>?
        /// Frames that were counted in the backlog and will never be written.
        var droppedFrames = 0
    }

    /// Ends a begun stream: its last frame, the end of the chunked body, and the connection.
    struct End {
        let last: ByteBuffer?
        let chunked: Bool
        let release: Release
    }

    /// Begins a stream: its first frame, the frames that waited, then either the end (it was
    /// finished before it began) or the keep-alives and the end timer, and the HTTP handlers go.
    struct Begin {
        let first: ByteBuffer?
        let pending: [ByteBuffer]
        let chunked: Bool
        let started: EventLoopPromise<Void>
        let end: End?
        let ticker: KeepAliveTicker
        let endAt: NIODeadline?
    }

    enum BeginAction {
        case none
        case begin(Begin)
        case invalidTransition(InvalidTransition)
    }

    enum TakeOverAction {
        /// Waits for the response head.
        case wait
        case begin(Begin)
        /// The stream ended before it began: the response body is released at once.
        case alreadyEnded
        /// Safe action: release the response body, write nothing.
        case invalidTransition(InvalidTransition)
    }

    enum WhenEndedAction {
        case stored
        case runNow
        /// Safe action: run it now, since nothing would run it later.
        case invalidTransition(InvalidTransition)
    }

    enum OutboundWriteAction {
        case forward
        /// The response head: forward it, then tell `headWritten` whether it is chunked.
        case forwardHead
        /// The request's task no longer owns the connection.
        case fail
    }

    enum FrameAction {
        /// Kept until the stream begins.
        case held
        case write(chunked: Bool)
        case drop
        /// Safe action: drop it.
        case invalidTransition(InvalidTransition)
    }

    enum KeepAliveAction {
        case none
        case write(ByteBuffer, chunked: Bool)
        /// Safe action: write nothing.
        case invalidTransition(InvalidTransition)
    }

    enum FinishAction {
        case none
        case end(End)
        /// Safe action: nothing more (the state moved to the safe one, if there is one).
        case invalidTransition(InvalidTransition)
    }

    enum ReleaseAction {
        case none
        /// Safe action: nothing more (the caller's promise is kept all the same).
        case invalidTransition(InvalidTransition)
    }

    enum ArmAction {
        case none
        /// The stream ended while it was being begun: cancel what was armed for it.
        case cancel(Release)
        /// Safe action: cancel what was armed.
        case invalidTransition(InvalidTransition, Release)
    }

    /// Who owns the connection's reads, flushes and closes.
    enum Ownership {
        /// The HTTP (or WebSocket) handlers: everything passes through.
        case pipeline
        /// A begun stream: reads are discarded but asked for (to notice a client leaving), and
        /// what the request's task flushes or closes is dropped.
        case stream
        /// An ended stream: nothing passes, nothing is asked for.
        case endedStream
    }

    /// `mutating`, as the per-frame events: the state is read where it lies, not copied (a copy
    /// retains and releases everything the stream holds, on every frame of every stream).
    var ownership: Ownership {
        mutating get {
            switch state {
            case .idle, .claimed, .webSocket, .webSocketReleased: .pipeline
            case .streaming: .stream
            case .ended: .endedStream
            }
        }
    }

    var isStreaming: Bool {
        if case .streaming = state { true } else { false }
    }

    // MARK: Events

    /// An event stream (or a WebSocket) asks for the connection; false when it is not ordinary
    /// HTTP any more (something claimed it before), which is a refusal, not a bug.
    mutating func claim(forWebSocket: Bool) -> Bool {
        guard case .idle = state else { return false }
        state = forWebSocket ? .webSocket : .claimed(Opening())
        return true
    }

    mutating func whenEnded(_ onEnd: @escaping @Sendable () -> Void) -> WhenEndedAction {
        switch state {
        case .claimed(let opening):
            opening.onEnd = onEnd
            return .stored
        case .streaming(let chunked, var streaming):
            state = .ended
            streaming.onEnd = onEnd
            state = .streaming(chunked: chunked, streaming)
            return .stored
        case .ended: return .runNow
        case .idle: return .invalidTransition(.init(event: "whenEnded", state: "idle"))
        case .webSocket, .webSocketReleased: return .invalidTransition(.init(event: "whenEnded", state: "a WebSocket"))
        }
    }

    /// The response body hands the stream over, once the response writer has sent the head.
    mutating func takeOver(_ start: Start) -> TakeOverAction {
        switch state {
        case .claimed(let opening):
            guard opening.start == nil else { return .invalidTransition(.init(event: "takeOver", state: "taken over")) }
            opening.start = start
            // Normally the head went through already: the response writer's hop came first.
            guard let chunked = opening.chunked else { return .wait }
            return .begin(begin(opening, start, chunked: chunked))
        case .ended: return .alreadyEnded
        case .idle: return .invalidTransition(.init(event: "takeOver", state: "idle"))
        case .streaming: return .invalidTransition(.init(event: "takeOver", state: "streaming"))
        case .webSocket, .webSocketReleased: return .invalidTransition(.init(event: "takeOver", state: "a WebSocket"))
        }
    }

    /// Something behind writes to the connection.
    mutating func outboundWrite() -> OutboundWriteAction {
        switch state {
        case .idle, .webSocket, .webSocketReleased: .forward
        case .claimed(let opening): opening.chunked == nil ? .forwardHead : .forward
        case .streaming, .ended: .fail
        }
    }

    /// The response head went out (after `outboundWrite` said `forwardHead`).
    mutating func headWritten(chunked: Bool) -> BeginAction {
        guard case .claimed(let opening) = state, opening.chunked == nil else {
            return .invalidTransition(.init(event: "headWritten", state: "not waiting for a head"))
        }
        opening.chunked = chunked
        guard let start = opening.start else { return .none }
        return .begin(begin(opening, start, chunked: chunked))
    }

    private mutating func begin(_ opening: Opening, _ start: Start, chunked: Bool) -> Begin {
        var end: End?
        if opening.finishing {
            state = .ended
            end = End(last: opening.lastFrame, chunked: chunked, release: Release(onEnd: opening.onEnd))
        } else {
            state = .streaming(chunked: chunked, Streaming(keepAliveFrame: start.keepAliveFrame, onEnd: opening.onEnd))
        }
        return Begin(
            first: start.first, pending: opening.pending, chunked: chunked, started: start.started, end: end, ticker: start.ticker,
            endAt: start.endAt)
    }

    /// The begun stream's keep-alive registration and end timer are in place.
    mutating func armed(keepAlive: KeepAliveTicker.Registration, endTimer: Scheduled<Void>?) -> ArmAction {
        switch state {
        case .streaming(let chunked, var streaming) where streaming.keepAlive == nil:
            state = .ended
            streaming.keepAlive = keepAlive
            streaming.endTimer = endTimer
            state = .streaming(chunked: chunked, streaming)
            return .none
        case .ended: return .cancel(Release(keepAlive: keepAlive, endTimer: endTimer))
        case .streaming: return .invalidTransition(.init(event: "armed", state: "armed"), Release(keepAlive: keepAlive, endTimer: endTimer))
        case .idle, .claimed, .webSocket, .webSocketReleased:
            return .invalidTransition(.init(event: "armed", state: "not begun"), Release(keepAlive: keepAlive, endTimer: endTimer))
        }
    }

    /// A frame posted by `send` reaches the event loop.
    mutating func frameArrived(_ frame: ByteBuffer) -> FrameAction {
        switch state {
        case .streaming(let chunked, _): return .write(chunked: chunked)
        case .webSocket: return .write(chunked: false)
        case .claimed(let opening):
            opening.pending.append(frame)
            return .held
        // Posted before the end, taken after it.
        case .ended, .webSocketReleased: return .drop
        case .idle: return .invalidTransition(.init(event: "frameArrived", state: "idle"))
        }
    }

    /// The keep-alive ticker beats; `outputWritable` says whether the client keeps up.
    mutating func keepAliveDue(outputWritable: Bool) -> KeepAliveAction {
        switch state {
        case .streaming(let chunked, let streaming):
            outputWritable ? .write(streaming.keepAliveFrame, chunked: chunked) : .none
        // A beat already under way when the stream ended.
        case .ended: .none
        case .idle, .claimed, .webSocket, .webSocketReleased: .invalidTransition(.init(event: "keepAliveDue", state: "not streaming"))
        }
    }

    /// The stream's producer, its end time or the server's shutdown ends the stream after what
    /// was posted before, and `last`.
    mutating func finishRequested(last: ByteBuffer?) -> FinishAction {
        switch state {
        case .claimed(let opening):
            // Finishing twice (too slow, then the feed's end) keeps the first.
            if !opening.finishing {
                opening.finishing = true
                opening.lastFrame = last
            }
            return .none
        case .streaming(let chunked, let streaming):
            state = .ended
            return .end(End(last: last, chunked: chunked, release: Self.release(streaming)))
        case .ended: return .none
        case .idle: return .invalidTransition(.init(event: "finishRequested", state: "idle"))
        case .webSocket:
            state = .webSocketReleased
            return .invalidTransition(.init(event: "finishRequested", state: "a WebSocket"))
        case .webSocketReleased: return .invalidTransition(.init(event: "finishRequested", state: "a WebSocket"))
        }
    }

    /// The server is shutting down: a stream ends cleanly so that it drains.
    mutating func quiesce() -> FinishAction {
        switch state {
        case .claimed, .streaming: finishRequested(last: nil)
        case .idle, .ended, .webSocket, .webSocketReleased: .none
        }
    }

    /// The client closed its side: a begun stream's client is gone.
    mutating func inputClosed() -> FinishAction {
        guard case .streaming(let chunked, let streaming) = state else { return .none }
        state = .ended
        return .end(End(last: nil, chunked: chunked, release: Self.release(streaming)))
    }

    /// A WebSocket's messages end after those posted before.
    mutating func releaseRequested() -> ReleaseAction {
        switch state {
        case .webSocket:
            state = .webSocketReleased
            return .none
        case .webSocketReleased: return .none
        case .idle: return .invalidTransition(.init(event: "releaseRequested", state: "idle"))
        case .claimed, .streaming, .ended: return .invalidTransition(.init(event: "releaseRequested", state: "an event stream"))
        }
    }

    /// The channel went inactive or the handler was removed: nothing more is written.
    mutating func closed() -> Release? {
        switch state {
        case .claimed(let opening):
            state = .ended
            return Release(onEnd: opening.onEnd, started: opening.start?.started, droppedFrames: opening.pending.count)
        case .streaming(_, let streaming):
            state = .ended
            return Self.release(streaming)
        case .webSocket:
            state = .webSocketReleased
            return nil
        case .idle, .ended, .webSocketReleased: return nil
        }
    }

    private static func release(_ streaming: Streaming) -> Release {
        Release(keepAlive: streaming.keepAlive, endTimer: streaming.endTimer, onEnd: streaming.onEnd)
    }
}
