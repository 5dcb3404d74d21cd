import NIOCore
import NIOWebSocket

/// The life of a WebSocket served from its pipeline (`WebSocketTakeover`): open (first owned by
/// the handlers behind, then by the socket's service once it attaches), closing (a close frame
/// went out; the client's reply or a deadline ends it), closed. Frames from the client, the
/// ping ticker, the service's end and the channel's events are events; each returns what the
/// handler is to do. The machine writes nothing and reads no clock (`now` is passed in), so
/// every path is testable without a socket.
///
/// `Attachment` is what the handler keeps for an attached service (the service, its outbox's
/// handoff, its ping registration); the machine only hands it back when it is needed.
struct WebSocketTakeoverStateMachine<Attachment> {
    /// A complete message from the client.
    enum Message: Sendable, Equatable {
        case text(String)
        case nonText
    }

    /// The flags last, packed together: every idle socket carries this.
    struct Open {
        /// Nil while the handlers behind own the socket.
        var attachment: Attachment?
        var fragments: ByteBuffer?
        /// Messages waiting for the service.
        var pending: [Message] = []
        var fragmentsAreText = false
        /// Set when the service is ready and the messages taken before it are in `pending`.
        var started = false
        /// A task is taking the messages to the service.
        var dispatching = false
        var reading = true
        var awaitingPong = false
    }

    enum State {
        case open(Open)
        /// A close frame went out; the client's reply, or the deadline, closes the connection.
        case closing(attachment: Attachment?)
        case closed(attached: Bool)
    }

    /// Past this many waiting messages the socket is not read until the service catches up.
    static var pendingLimit: Int { 32 }
    static var closeTimeout: TimeAmount { .seconds(10) }

    /// An event that edits a state's data in place parks the state on `.closed` meanwhile, so that the
    /// data is referenced once and not copied on write; it is never seen parked.
    private(set) var state = State.open(Open())
    private(set) var maximumMessageBytes: Int

    init(maximumMessageBytes: Int) {
        self.maximumMessageBytes = maximumMessageBytes
    }

    // MARK: Actions

    /// Our close frame: the handler sends it and closes the connection at `deadline` unless the
    /// client's reply closed it before.
    struct Close: Equatable {
        let code: WebSocketErrorCode
        let reason: String?
        let deadline: NIODeadline
    }

    enum FrameAction {
        case none
        case pong(ByteBuffer)
        /// Start a task that takes the waiting messages to the service.
        case dispatch(Attachment)
        case sendClose(Close)
        /// Our close frame goes out and the connection closes at once: the client's close was
        /// answered, or the client reads nothing and would not read the close either.
        case sendCloseAndCloseConnection(Close)
        /// The client does not read the replies to its frames.
        case cutOffForNotReading(Close)
        case closeConnection
    }

    enum AttachAction {
        case attached
        /// The socket closed before the service came: the attachment is not kept.
        case refused
        /// Safe action: as `refused`.
        case invalidTransition(InvalidTransition)
    }

    enum DispatchAction {
        case none
        case dispatch(Attachment)
        case invalidTransition(InvalidTransition)
    }

    enum NextMessage {
        case none
        /// `readAgain` when the queue went down enough that the socket is read again.
        case message(Message, readAgain: Bool)
        /// Safe action: as `none`.
        case invalidTransition(InvalidTransition)
    }

    enum PingAction {
        case none
        case ping
        /// No pong since the last ping: the client is gone, as hummingbird-websocket judges it.
        case sendCloseAndCloseConnection(Close)
        case invalidTransition(InvalidTransition)
    }

    enum CloseAfterMessagesAction {
        case none
        /// Let the handoff write what was posted before, then tell `messagesReleased`.
        case release(Attachment)
        case invalidTransition(InvalidTransition)
    }

    enum CloseAction {
        case none
        case sendClose(Close)
    }

    enum DeadlineAction {
        case none
        case closeConnection
        case invalidTransition(InvalidTransition)
    }

    enum EndAction {
        case none
        /// The socket is over: its service (if one attached) ends, once.
        case end(Attachment?)
    }

    enum OutboundAction {
        case forward
        /// The handlers behind close the socket (a service refusing it): forward it and close
        /// the connection at the deadline unless the client's reply does first.
        case forwardClose(deadline: NIODeadline)
        /// They no longer own the socket.
        case drop
    }

    // MARK: Queries

    /// Whether the socket is read on after this read: not while the service is behind.
    /// `mutating`, so that the state is read where it lies rather than copied at every read.
    var readsMore: Bool {
        mutating get {
            switch state {
            case .open(let open): open.reading
            // The client's close is awaited.
            case .closing: true
            case .closed: false
            }
        }
    }

    /// Whether what the handlers behind write, flush or close still reaches the channel.
    var handlersBehindOwnOutput: Bool {
        switch state {
        case .open(let open): open.attachment == nil
        case .closing(let attachment): attachment == nil
        case .closed(let attached): !attached
        }
    }

    // MARK: Events

    /// The socket's service takes the socket over from the handlers behind.
    mutating func attach(_ attachment: Attachment, maximumMessageBytes: Int) -> AttachAction {
        switch state {
        case .open(var open) where open.attachment == nil:
            state = .closed(attached: false)
            open.attachment = attachment
            state = .open(open)
        case .closing(nil): state = .closing(attachment: attachment)
        case .closed: return .refused
        case .open, .closing: return .invalidTransition(.init(event: "attach", state: "attached"))
        }
        self.maximumMessageBytes = maximumMessageBytes
        return .attached
    }

    /// The service is ready: `earlier` (what the handlers behind took before the takeover) first.
    mutating func start(after earlier: [Message]) -> DispatchAction {
        switch state {
        case .open(var open) where open.attachment != nil && !open.started:
            state = .closed(attached: true)
            open.pending.insert(contentsOf: earlier, at: 0)
            open.started = true
            let action = Self.dispatchIfNeeded(&open)
            state = .open(open)
            return action
        case .open(let open) where open.attachment == nil: return .invalidTransition(.init(event: "start", state: "not attached"))
        case .open: return .invalidTransition(.init(event: "start", state: "started"))
        // Closed meanwhile: nothing is served.
        case .closing, .closed: return .none
        }
    }

    /// A frame from the client, decoded. `outputWritable` says whether the client reads what
    /// it is sent; `now` dates the close deadline.
    mutating func frameReceived(_ frame: WebSocketFrame, outputWritable: Bool, now: NIODeadline) -> FrameAction {
        guard case .open(var open) = state else {
            if case .closing = state, frame.opcode == .connectionClose { return .closeConnection }
            return .none
        }
        if let refusal = Self.protocolViolation(in: frame) { return .sendClose(close(.protocolError, refusal, now)) }
        switch frame.opcode {
        case .connectionClose:
            var data = frame.unmaskedData
            let code = data.readInteger(as: UInt16.self).map { WebSocketErrorCode(codeNumber: Int($0)) }
            // Echo a valid code back, as RFC 6455 §5.5.1 has it, and close.
            return .sendCloseAndCloseConnection(close(code.flatMap { Self.isEchoable($0) ? $0 : nil } ?? .normalClosure, nil, now))
        case .ping:
            // Pongs wait in the same outbound buffer as the service's messages: a client that
            // pings without reading the pongs is as slow as one that does not read its messages.
            guard outputWritable else { return .cutOffForNotReading(close(.policyViolation, "too slow: replies were not read", now)) }
            return .pong(frame.unmaskedData)
        case .pong:
            state = .closed(attached: false)
            open.awaitingPong = false
            state = .open(open)
            return .none
        case .text, .binary:
            guard open.fragments == nil else { return .sendClose(close(.protocolError, "a new message inside a fragmented one", now)) }
            guard frame.length <= maximumMessageBytes else { return .sendClose(tooLarge(now)) }
            state = .closed(attached: false)
            defer { if case .closed = state { state = .open(open) } }
            if frame.fin { return complete(&open, frame.unmaskedData, isText: frame.opcode == .text, now: now) }
            open.fragments = frame.unmaskedData
            open.fragmentsAreText = frame.opcode == .text
            return .none
        case .continuation:
            guard var joined = open.fragments else { return .sendClose(close(.protocolError, "a continuation with nothing to continue", now)) }
            var data = frame.unmaskedData
            guard joined.readableBytes + data.readableBytes <= maximumMessageBytes else { return .sendClose(tooLarge(now)) }
            state = .closed(attached: false)
            defer { if case .closed = state { state = .open(open) } }
            open.fragments = nil
            joined.writeBuffer(&data)
            if frame.fin { return complete(&open, joined, isText: open.fragmentsAreText, now: now) }
            open.fragments = joined
            return .none
        default:
            return .sendClose(close(.protocolError, "unknown opcode", now))
        }
    }

    private mutating func complete(_ open: inout Open, _ message: ByteBuffer, isText: Bool, now: NIODeadline) -> FrameAction {
        if isText {
            guard let text = String(validating: message.readableBytesView, as: UTF8.self) else {
                // `close` leaves the state closing: the caller's deferred restore sees it.
                state = .open(open)
                return .sendClose(close(.dataInconsistentWithMessage, "text is not UTF-8", now))
            }
            open.pending.append(.text(text))
        } else {
            open.pending.append(.nonText)
        }
        if open.pending.count >= Self.pendingLimit { open.reading = false }
        if case .dispatch(let attachment) = Self.dispatchIfNeeded(&open) { return .dispatch(attachment) }
        return .none
    }

    private static func dispatchIfNeeded(_ open: inout Open) -> DispatchAction {
        guard open.started, !open.dispatching, !open.pending.isEmpty, let attachment = open.attachment else { return .none }
        open.dispatching = true
        return .dispatch(attachment)
    }

    /// The dispatching task asks for the next message; `.none` ends the task.
    mutating func nextMessage() -> NextMessage {
        guard case .open(var open) = state else { return .none }
        guard open.dispatching else { return .invalidTransition(.init(event: "nextMessage", state: "not dispatching")) }
        state = .closed(attached: false)
        defer { state = .open(open) }
        guard !open.pending.isEmpty else {
            open.dispatching = false
            return .none
        }
        let message = open.pending.removeFirst()
        var readAgain = false
        if !open.reading, open.pending.count <= Self.pendingLimit / 2 {
            open.reading = true
            readAgain = true
        }
        return .message(message, readAgain: readAgain)
    }

    /// The ping ticker beats.
    mutating func keepAliveBeat(now: NIODeadline) -> PingAction {
        guard case .open(var open) = state else { return .none }
        guard open.attachment != nil else { return .invalidTransition(.init(event: "keepAliveBeat", state: "not attached")) }
        guard !open.awaitingPong else { return .sendCloseAndCloseConnection(close(.goingAway, "no pong", now)) }
        state = .closed(attached: false)
        open.awaitingPong = true
        state = .open(open)
        return .ping
    }

    /// The service's outbox has ended: the socket closes after the messages posted before.
    func closeAfterMessagesRequested() -> CloseAfterMessagesAction {
        switch state {
        case .open(let open):
            guard let attachment = open.attachment else {
                return .invalidTransition(.init(event: "closeAfterMessagesRequested", state: "not attached"))
            }
            return .release(attachment)
        case .closing, .closed: return .none
        }
    }

    /// The messages posted before the outbox ended are written: normally, or with 1008 when the
    /// client did not read them.
    mutating func messagesReleased(tooSlow: Bool, now: NIODeadline) -> CloseAction {
        guard case .open = state else { return .none }
        return .sendClose(tooSlow ? close(.policyViolation, "too slow: messages were not read", now) : close(.normalClosure, nil, now))
    }

    /// The server is shutting down.
    mutating func quiesce(now: NIODeadline) -> CloseAction {
        guard case .open = state else { return .none }
        return .sendClose(close(.goingAway, nil, now))
    }

    /// The frame decoder refused the client's bytes.
    mutating func decodingFailed(frameTooLarge: Bool, now: NIODeadline) -> CloseAction {
        guard case .open = state else { return .none }
        return .sendClose(frameTooLarge ? close(.messageTooLarge, "frames are limited to \(maximumMessageBytes) bytes", now) : close(.protocolError, nil, now))
    }

    /// The deadline of a close frame has passed.
    func closeDeadlinePassed() -> DeadlineAction {
        switch state {
        case .closing: .closeConnection
        case .closed: .none
        case .open: .invalidTransition(.init(event: "closeDeadlinePassed", state: "open"))
        }
    }

    /// The handlers behind write a frame; `isClose` when it is a close frame.
    mutating func outboundWrite(isClose: Bool, now: NIODeadline) -> OutboundAction {
        guard handlersBehindOwnOutput else { return .drop }
        guard isClose, case .open = state else { return .forward }
        state = .closing(attachment: nil)
        return .forwardClose(deadline: now + Self.closeTimeout)
    }

    /// The channel went inactive or the handler was removed.
    mutating func closed() -> EndAction {
        switch state {
        case .open(let open):
            state = .closed(attached: open.attachment != nil)
            return .end(open.attachment)
        case .closing(let attachment):
            state = .closed(attached: attachment != nil)
            return .end(attachment)
        // Both the channel's end and the handler's removal say so.
        case .closed: return .none
        }
    }

    // MARK: Helpers

    /// Moves to closing (dropping waiting messages and fragments) and says what to send.
    private mutating func close(_ code: WebSocketErrorCode, _ reason: String?, _ now: NIODeadline) -> Close {
        if case .open(let open) = state { state = .closing(attachment: open.attachment) }
        return Close(code: code, reason: reason, deadline: now + Self.closeTimeout)
    }

    private mutating func tooLarge(_ now: NIODeadline) -> Close {
        close(.messageTooLarge, "messages are limited to \(maximumMessageBytes) bytes", now)
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

    private static func isEchoable(_ code: WebSocketErrorCode) -> Bool {
        switch code {
        case .unknown(let number): return (3000...4999).contains(number)
        default: return true
        }
    }
}
