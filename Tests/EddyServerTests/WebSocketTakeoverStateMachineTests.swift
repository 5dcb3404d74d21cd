import NIOCore
import NIOWebSocket
import Testing

@testable import EddyServer

/// The state of a WebSocket served from its pipeline, without a socket: messages to the
/// service under back-pressure, pings and pongs, the close handshake from either side, RFC 6455
/// refusals, and every event that cannot happen in a state.
@Suite struct WebSocketTakeoverStateMachineTests {
    /// The attachment is the service's name here: the machine only hands it back.
    typealias Machine = WebSocketTakeoverStateMachine<String>

    let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    static let key = WebSocketMaskingKey([1, 2, 3, 4])!

    static func frame(_ opcode: WebSocketOpcode, _ text: String = "", fin: Bool = true, masked: Bool = true) -> WebSocketFrame {
        frame(opcode, ByteBuffer(string: text), fin: fin, masked: masked)
    }

    static func frame(_ opcode: WebSocketOpcode, _ payload: ByteBuffer, fin: Bool = true, masked: Bool = true) -> WebSocketFrame {
        var data = payload
        guard masked else { return WebSocketFrame(fin: fin, opcode: opcode, data: data) }
        data.webSocketMask(key)
        return WebSocketFrame(fin: fin, opcode: opcode, maskKey: key, data: data)
    }

    static func close(code: UInt16) -> WebSocketFrame {
        var payload = ByteBuffer()
        payload.writeInteger(code)
        return frame(.connectionClose, payload)
    }

    /// A machine whose service attached and started, with nothing waiting.
    func serving() -> Machine {
        var machine = Machine(maximumMessageBytes: 16)
        #expect(Self.name(machine.attach("service", maximumMessageBytes: 16)) == "attached")
        #expect(Self.name(machine.start(after: [])) == "none")
        return machine
    }

    func received(_ machine: inout Machine, _ frame: WebSocketFrame, writable: Bool = true) -> Machine.FrameAction {
        machine.frameReceived(frame, outputWritable: writable, now: now)
    }

    func expectClose(
        _ action: Any, _ code: WebSocketErrorCode, reason: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let close = Mirror(reflecting: action).children.first?.value as? Machine.Close
        #expect(close?.code == code, sourceLocation: sourceLocation)
        if let reason { #expect(close?.reason == reason, sourceLocation: sourceLocation) }
        #expect(close?.deadline == now + Machine.closeTimeout, "the close deadline counts from the time passed in", sourceLocation: sourceLocation)
    }

    // MARK: Messages

    @Test func messagesWaitForTheServiceThenGoToItOneAtATime() throws {
        var machine = Machine(maximumMessageBytes: 16)
        #expect(Self.name(received(&machine, Self.frame(.text, "one"))) == "none", "no service yet")
        #expect(Self.name(received(&machine, Self.frame(.binary, "two"))) == "none")
        #expect(Self.name(machine.attach("service", maximumMessageBytes: 16)) == "attached")
        guard case .dispatch(let service) = machine.start(after: [.text("earlier")]) else { throw MachineTestFailure("no dispatch") }
        #expect(service == "service")
        var taken: [Machine.Message] = []
        while case .message(let message, _) = machine.nextMessage() { taken.append(message) }
        #expect(taken == [.text("earlier"), .text("one"), .nonText], "what the handlers behind took comes first")
        guard case .dispatch = received(&machine, Self.frame(.text, "three")) else { throw MachineTestFailure("not dispatched again") }
        #expect(Self.name(received(&machine, Self.frame(.text, "four"))) == "none", "one task takes them while it runs")
    }

    @Test func fragmentsAreJoinedIntoOneMessage() throws {
        var machine = serving()
        #expect(Self.name(received(&machine, Self.frame(.text, "ab", fin: false))) == "none")
        #expect(Self.name(received(&machine, Self.frame(.continuation, "cd", fin: false))) == "none")
        #expect(Self.name(received(&machine, Self.frame(.continuation, "é"))) == "dispatch")
        guard case .message(let message, _) = machine.nextMessage() else { throw MachineTestFailure("no message") }
        #expect(message == .text("abcdé"))
    }

    @Test func aServiceThatFallsBehindStopsTheReadsUntilItCatchesUp() throws {
        var machine = serving()
        for index in 0..<Machine.pendingLimit { _ = received(&machine, Self.frame(.text, "\(index)")) }
        #expect(!machine.currentlyReading, "a full queue stops the reads")
        var readAgainAfter: Int?
        for taken in 1...Machine.pendingLimit {
            guard case .message(_, let readAgain) = machine.nextMessage() else { throw MachineTestFailure("ran out") }
            if readAgain { readAgainAfter = taken }
        }
        #expect(readAgainAfter == Machine.pendingLimit / 2, "read again once half of it is taken")
        #expect(machine.currentlyReading)
        #expect(Self.name(machine.nextMessage()) == "none", "the task ends with the queue")
    }

    // MARK: Pings

    @Test func pingsAreAnsweredUnlessTheClientReadsNothing() throws {
        var machine = serving()
        guard case .pong(let data) = received(&machine, Self.frame(.ping, "hi")) else { throw MachineTestFailure("no pong") }
        #expect(data == ByteBuffer(string: "hi"))
        let cutOff = received(&machine, Self.frame(.ping, "hi"), writable: false)
        #expect(Self.name(cutOff) == "cutOffForNotReading")
        expectClose(cutOff, .policyViolation, reason: "too slow: replies were not read")
        #expect(Self.name(received(&machine, Self.frame(.ping))) == "none", "closing: no more pongs")
    }

    @Test func aClientThatStopsAnsweringPingsIsClosed() {
        var machine = serving()
        #expect(Self.name(machine.keepAliveBeat(now: now)) == "ping")
        #expect(Self.name(received(&machine, Self.frame(.pong, "eddy"))) == "none")
        #expect(Self.name(machine.keepAliveBeat(now: now)) == "ping", "answered: pinged again")
        let gone = machine.keepAliveBeat(now: now)
        #expect(Self.name(gone) == "sendCloseAndCloseConnection")
        expectClose(gone, .goingAway, reason: "no pong")
        #expect(Self.name(machine.keepAliveBeat(now: now)) == "none")
    }

    // MARK: Closing

    @Test func theServiceEndingClosesAfterItsMessages() throws {
        var machine = serving()
        guard case .release(let service) = machine.closeAfterMessagesRequested() else { throw MachineTestFailure("no release") }
        #expect(service == "service")
        let close = machine.messagesReleased(tooSlow: false, now: now)
        expectClose(close, .normalClosure)
        #expect(Self.name(received(&machine, Self.frame(.text, "late"))) == "none", "closing: messages are dropped")
        #expect(Self.name(machine.closeAfterMessagesRequested()) == "none")
        #expect(Self.name(machine.messagesReleased(tooSlow: true, now: now)) == "none", "one close frame")
        #expect(machine.currentlyReading, "the client's close is awaited")
        #expect(Self.name(received(&machine, Self.close(code: 1000))) == "closeConnection", "the client's reply ends it")
        #expect(Self.name(machine.closeDeadlinePassed()) == "closeConnection", "or the deadline does")
        guard case .end(let ended) = machine.closed() else { throw MachineTestFailure("not ended") }
        #expect(ended == "service")
        #expect(Self.name(machine.closed()) == "none", "the service ends once")
        #expect(Self.name(machine.closeDeadlinePassed()) == "none")
        #expect(!machine.currentlyReading)
    }

    @Test func aClientTooSlowForItsMessagesIsClosedWith1008() {
        var machine = serving()
        _ = machine.closeAfterMessagesRequested()
        expectClose(machine.messagesReleased(tooSlow: true, now: now), .policyViolation, reason: "too slow: messages were not read")
    }

    @Test func theClientsCloseIsEchoedAndEndsTheConnection() {
        for (sent, echoed) in [(UInt16(1000), WebSocketErrorCode.normalClosure), (1001, .goingAway), (4000, .unknown(4000)), (2999, .normalClosure)] {
            var machine = serving()
            let action = received(&machine, Self.close(code: sent))
            #expect(Self.name(action) == "sendCloseAndCloseConnection")
            expectClose(action, echoed)
        }
        var machine = serving()
        expectClose(received(&machine, Self.frame(.connectionClose)), .normalClosure)
    }

    @Test func shutdownAndDecodingErrorsClose() {
        var machine = serving()
        expectClose(machine.quiesce(now: now), .goingAway)
        #expect(Self.name(machine.quiesce(now: now)) == "none")
        var tooLarge = serving()
        expectClose(tooLarge.decodingFailed(frameTooLarge: true, now: now), .messageTooLarge)
        var broken = serving()
        expectClose(broken.decodingFailed(frameTooLarge: false, now: now), .protocolError)
    }

    @Test func framesAgainstRFC6455AreRefused() {
        let cases: [(frames: [WebSocketFrame], code: WebSocketErrorCode)] = [
            ([Self.frame(.text, "x", masked: false)], .protocolError),
            ([Self.frame(.ping, "x", fin: false)], .protocolError),
            ([Self.frame(.continuation, "x")], .protocolError),
            ([Self.frame(.text, "a", fin: false), Self.frame(.text, "b")], .protocolError),
            ([Self.frame(.text, String(repeating: "x", count: 17))], .messageTooLarge),
            ([Self.frame(.text, "0123456789", fin: false), Self.frame(.continuation, "0123456789")], .messageTooLarge),
            ([Self.frame(.text, ByteBuffer(bytes: [0xC3, 0x28]))], .dataInconsistentWithMessage),
            ([Self.frame(WebSocketOpcode(encodedWebSocketOpcode: 3)!, "x")], .protocolError),
        ]
        for (frames, code) in cases {
            var machine = serving()
            var last: Machine.FrameAction = .none
            for frame in frames { last = received(&machine, frame) }
            #expect(Self.name(last) == "sendClose", "\(frames.map(\.opcode))")
            expectClose(last, code)
            #expect(Self.name(received(&machine, Self.frame(.text, "after"))) == "none", "nothing is taken once closing")
        }
    }

    // MARK: Ownership of the output

    @Test func theHandlersBehindOwnTheOutputUntilTheServiceAttaches() throws {
        var machine = Machine(maximumMessageBytes: 16)
        #expect(machine.handlersBehindOwnOutput)
        #expect(Self.name(machine.outboundWrite(isClose: false, now: now)) == "forward")
        guard case .forwardClose(let deadline) = machine.outboundWrite(isClose: true, now: now) else {
            throw MachineTestFailure("their close was not timed")
        }
        #expect(deadline == now + Machine.closeTimeout)
        #expect(Self.name(received(&machine, Self.frame(.text, "x"))) == "none", "closing")
        #expect(Self.name(machine.attach("service", maximumMessageBytes: 16)) == "attached", "a service may still come")
        #expect(!machine.handlersBehindOwnOutput)
        #expect(Self.name(machine.outboundWrite(isClose: true, now: now)) == "drop")
        var attached = serving()
        #expect(Self.name(attached.outboundWrite(isClose: false, now: now)) == "drop")
        _ = attached.closed()
        #expect(Self.name(attached.outboundWrite(isClose: false, now: now)) == "drop", "still not theirs")
    }

    @Test func aSocketClosedBeforeItsServiceCameRefusesIt() throws {
        var machine = Machine(maximumMessageBytes: 16)
        guard case .end(let attachment) = machine.closed() else { throw MachineTestFailure("not ended") }
        #expect(attachment == nil)
        #expect(Self.name(machine.attach("service", maximumMessageBytes: 16)) == "refused")
        #expect(Self.name(machine.start(after: [.text("x")])) == "none")
        #expect(machine.handlersBehindOwnOutput)
    }

    // MARK: Impossible transitions

    @Test func impossibleTransitionsAreReportedNotIgnored() {
        func expectInvalid(_ action: Any, _ comment: Comment, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(Self.name(action) == "invalidTransition", comment, sourceLocation: sourceLocation)
        }
        var unattached = Machine(maximumMessageBytes: 16)
        expectInvalid(unattached.start(after: []), "a start before the service attached")
        expectInvalid(unattached.keepAliveBeat(now: now), "a ping beat before the service registered for it")
        expectInvalid(unattached.closeAfterMessagesRequested(), "an outbox end before the service attached")
        expectInvalid(unattached.closeDeadlinePassed(), "a close deadline while open")
        expectInvalid(unattached.nextMessage(), "a message asked for with no task dispatching")
        #expect(unattached.handlersBehindOwnOutput, "nothing moved")

        var attached = serving()
        expectInvalid(attached.attach("again", maximumMessageBytes: 16), "a second attach")
        expectInvalid(attached.start(after: []), "a second start")
        expectInvalid(attached.nextMessage(), "a message asked for with no task dispatching")
        expectInvalid(attached.closeDeadlinePassed(), "a close deadline while open")
        #expect(Self.name(attached.keepAliveBeat(now: now)) == "ping", "still serving")
    }

    @Test func aSocketCarriesNoMoreStateThanBeforeTheMachine() {
        // The handler's fields that the machine replaced, as they were laid out.
        struct Before {
            var maximumMessageBytes: Int
            var service: WebSocketTakeover.Service?
            var handoff: AnyObject?
            var fragments: ByteBuffer?
            var fragmentsAreText: Bool
            var pending: [Machine.Message]
            var dispatching, started, reading, awaitingPong, closing, ended: Bool
            var pinging: KeepAliveTicker.Registration?
        }
        #expect(MemoryLayout<WebSocketTakeover.Machine>.size <= MemoryLayout<Before>.size)
    }

    static func name(_ value: Any) -> String {
        Mirror(reflecting: value).children.first?.label ?? String(describing: value)
    }
}

extension WebSocketTakeoverStateMachine {
    /// `readsMore` without the in-place access the handler uses, for `#expect`.
    var currentlyReading: Bool {
        var copy = self
        return copy.readsMore
    }
}
