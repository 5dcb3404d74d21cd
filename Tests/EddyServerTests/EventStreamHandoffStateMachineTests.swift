import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing

@testable import EddyServer

/// The connection state behind `EventStreamHandoff`, without a socket: every path a stream or a
/// WebSocket's messages take through it, and every event that cannot happen in a state, which
/// the machine must report instead of ignoring.
@Suite struct EventStreamHandoffStateMachineTests {
    typealias Machine = EventStreamHandoffStateMachine

    let loop = EmbeddedEventLoop()
    let ticker = KeepAliveTicker(intervalSeconds: 3600)

    func start(first: String? = "first", endAt: NIODeadline? = nil) -> Machine.Start {
        // Kept already: the machine only hands it back, and a promise left unkept stops a debug build.
        let started = loop.makePromise(of: Void.self)
        started.succeed()
        return Machine.Start(
            first: first.map { ByteBuffer(string: $0) }, keepAliveFrame: ByteBuffer(string: ": eddy\n\n"), ticker: ticker, endAt: endAt,
            started: started)
    }

    var registration: KeepAliveTicker.Registration { .init(ticker: ticker, id: 1) }

    /// A machine whose event stream has begun and is armed.
    func streaming(chunked: Bool = true) -> Machine {
        var machine = Machine()
        #expect(Self.answer(machine.claim(forWebSocket: false)))
        _ = machine.takeOver(start())
        _ = machine.headWritten(chunked: chunked)
        #expect(Self.name(machine.armed(keepAlive: registration, endTimer: nil)) == "none")
        return machine
    }

    // MARK: Legal paths

    @Test func anOrdinaryConnectionPassesEverythingThrough() {
        var machine = Machine()
        #expect(machine.currentOwnership == .pipeline)
        #expect(Self.name(machine.outboundWrite()) == "forward")
    }

    @Test func aStreamHoldsItsFramesUntilTheHeadIsOutThenBegins() throws {
        var machine = Machine()
        #expect(Self.answer(machine.claim(forWebSocket: false)))
        #expect(Self.name(machine.whenEnded {}) == "stored")
        #expect(Self.name(machine.frameArrived(ByteBuffer(string: "a"))) == "held")
        #expect(Self.name(machine.frameArrived(ByteBuffer(string: "b"))) == "held")
        #expect(Self.name(machine.takeOver(start())) == "wait", "the head has not gone out yet")
        #expect(Self.name(machine.outboundWrite()) == "forwardHead")
        guard case .begin(let begin) = machine.headWritten(chunked: true) else { throw MachineTestFailure("no begin") }
        #expect(begin.first == ByteBuffer(string: "first"))
        #expect(begin.pending == [ByteBuffer(string: "a"), ByteBuffer(string: "b")])
        #expect(begin.chunked && begin.end == nil)
        #expect(machine.isStreaming && machine.currentOwnership == .stream)
        #expect(Self.name(machine.armed(keepAlive: registration, endTimer: nil)) == "none")
        guard case .write(let chunked) = machine.frameArrived(ByteBuffer(string: "c")) else { throw MachineTestFailure("not written") }
        #expect(chunked)
        #expect(Self.name(machine.outboundWrite()) == "fail", "the request's task no longer owns the connection")
    }

    @Test func aHeadBeforeTheTakeOverBeginsTheStreamAtTheTakeOver() throws {
        var machine = Machine()
        #expect(Self.answer(machine.claim(forWebSocket: false)))
        #expect(Self.name(machine.headWritten(chunked: false)) == "none")
        #expect(Self.name(machine.outboundWrite()) == "forward", "only the first write is the head")
        guard case .begin(let begin) = machine.takeOver(start(first: nil)) else { throw MachineTestFailure("no begin") }
        #expect(!begin.chunked && begin.first == nil)
        guard case .write(let chunked) = machine.frameArrived(ByteBuffer(string: "c")) else { throw MachineTestFailure("not written") }
        #expect(!chunked, "a body without chunked framing gets its frames as they are")
    }

    @Test func keepAlivesGoOnlyToAClientThatKeepsUp() throws {
        var machine = streaming()
        #expect(Self.name(machine.keepAliveDue(outputWritable: false)) == "none")
        guard case .write(let frame, let chunked) = machine.keepAliveDue(outputWritable: true) else { throw MachineTestFailure("no keep-alive") }
        #expect(frame == ByteBuffer(string: ": eddy\n\n") && chunked)
    }

    @Test func finishingEndsWithTheLastFrameAndReleasesEverything() throws {
        var machine = Machine()
        #expect(Self.answer(machine.claim(forWebSocket: false)))
        let ended = NIOLockedValueBox(false)
        _ = machine.whenEnded { ended.withLockedValue { $0 = true } }
        _ = machine.takeOver(start(endAt: .now() + .seconds(60)))
        _ = machine.headWritten(chunked: true)
        let timer = loop.scheduleTask(in: .seconds(60)) {}
        #expect(Self.name(machine.armed(keepAlive: registration, endTimer: timer)) == "none")
        guard case .end(let end) = machine.finishRequested(last: ByteBuffer(string: "bye")) else { throw MachineTestFailure("no end") }
        #expect(end.last == ByteBuffer(string: "bye") && end.chunked)
        #expect(end.release.keepAlive?.id == 1 && end.release.endTimer != nil && end.release.started == nil)
        end.release.onEnd?()
        timer.cancel()
        #expect(ended.withLockedValue { $0 })
        #expect(machine.currentOwnership == .endedStream)
        // What was under way when it ended is dropped, and ends nothing twice.
        #expect(Self.name(machine.frameArrived(ByteBuffer(string: "late"))) == "drop")
        #expect(Self.name(machine.keepAliveDue(outputWritable: true)) == "none")
        #expect(Self.name(machine.finishRequested(last: nil)) == "none")
        #expect(Self.name(machine.inputClosed()) == "none")
        #expect(machine.closed() == nil)
        #expect(Self.name(machine.whenEnded {}) == "runNow")
        #expect(Self.name(machine.takeOver(start())) == "alreadyEnded")
    }

    @Test func aStreamFinishedBeforeItBeganEndsRightAfterItsFirstFrames() throws {
        var machine = Machine()
        #expect(Self.answer(machine.claim(forWebSocket: false)))
        _ = machine.frameArrived(ByteBuffer(string: "a"))
        #expect(Self.name(machine.finishRequested(last: ByteBuffer(string: "too slow"))) == "none")
        #expect(Self.name(machine.finishRequested(last: ByteBuffer(string: "the end"))) == "none", "the first finish wins")
        _ = machine.takeOver(start())
        guard case .begin(let begin) = machine.headWritten(chunked: true) else { throw MachineTestFailure("no begin") }
        #expect(begin.pending == [ByteBuffer(string: "a")])
        #expect(begin.end?.last == ByteBuffer(string: "too slow"))
        #expect(machine.currentOwnership == .endedStream)
    }

    @Test func aClientThatClosesItsSideEndsABegunStreamOnly() throws {
        var claimed = Machine()
        #expect(Self.answer(claimed.claim(forWebSocket: false)))
        #expect(Self.name(claimed.inputClosed()) == "none", "the request is still being answered")
        var machine = streaming()
        guard case .end(let end) = machine.inputClosed() else { throw MachineTestFailure("no end") }
        #expect(end.last == nil && end.release.keepAlive != nil)
    }

    @Test func shutdownEndsStreamsAndLeavesOtherConnectionsAlone() throws {
        var machine = streaming()
        #expect(Self.name(machine.quiesce()) == "end")
        var idle = Machine()
        #expect(Self.name(idle.quiesce()) == "none")
        var socket = Machine()
        #expect(Self.answer(socket.claim(forWebSocket: true)))
        #expect(Self.name(socket.quiesce()) == "none", "a socket's own handler says goodbye")
    }

    @Test func aConnectionClosedBeforeItsStreamBeganReleasesTheResponseBody() throws {
        var machine = Machine()
        #expect(Self.answer(machine.claim(forWebSocket: false)))
        _ = machine.frameArrived(ByteBuffer(string: "a"))
        _ = machine.frameArrived(ByteBuffer(string: "b"))
        let start = start()
        #expect(Self.name(machine.takeOver(start)) == "wait")
        let ended = NIOLockedValueBox(false)
        _ = machine.whenEnded { ended.withLockedValue { $0 = true } }
        let closed = machine.closed()
        let release = try #require(closed)
        #expect(release.droppedFrames == 2 && release.started != nil && release.keepAlive == nil)
        release.onEnd?()
        #expect(ended.withLockedValue { $0 })
        #expect(Self.name(machine.headWritten(chunked: true)) == "invalidTransition", "no head goes out on a closed connection")
    }

    @Test func aStreamEndingWhileItBeganCancelsWhatWasArmedForIt() throws {
        var machine = Machine()
        #expect(Self.answer(machine.claim(forWebSocket: false)))
        _ = machine.takeOver(start())
        _ = machine.headWritten(chunked: true)
        _ = machine.closed()
        guard case .cancel(let release) = machine.armed(keepAlive: registration, endTimer: nil) else { throw MachineTestFailure("not cancelled") }
        #expect(release.keepAlive?.id == 1)
    }

    @Test func aWebSocketsMessagesAreWrittenUntilReleased() throws {
        var machine = Machine()
        #expect(Self.answer(machine.claim(forWebSocket: true)))
        #expect(!Self.answer(machine.claim(forWebSocket: false)), "a connection is claimed once")
        #expect(machine.currentOwnership == .pipeline, "the socket's own frames and reads pass through")
        guard case .write(let chunked) = machine.frameArrived(ByteBuffer(string: "m")) else { throw MachineTestFailure("not written") }
        #expect(!chunked)
        #expect(Self.name(machine.releaseRequested()) == "none")
        #expect(Self.name(machine.frameArrived(ByteBuffer(string: "late"))) == "drop")
        #expect(Self.name(machine.releaseRequested()) == "none")
        #expect(machine.closed() == nil)
        var closedFirst = Machine()
        _ = closedFirst.claim(forWebSocket: true)
        #expect(closedFirst.closed() == nil)
        #expect(Self.name(closedFirst.frameArrived(ByteBuffer(string: "late"))) == "drop")
    }

    @Test func aClaimedConnectionIsNotClaimedAgain() {
        var machine = Machine()
        #expect(Self.answer(machine.claim(forWebSocket: false)))
        #expect(!Self.answer(machine.claim(forWebSocket: false)))
        #expect(!Self.answer(machine.claim(forWebSocket: true)))
    }

    // MARK: Impossible transitions

    @Test func impossibleTransitionsAreReportedNotIgnored() {
        func expectInvalid(_ action: Any, _ comment: Comment, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(Self.name(action) == "invalidTransition", comment, sourceLocation: sourceLocation)
        }
        var idle = Machine()
        expectInvalid(idle.frameArrived(ByteBuffer(string: "x")), "a frame before any claim")
        expectInvalid(idle.takeOver(start()), "a take-over before any claim")
        expectInvalid(idle.whenEnded {}, "an end handler before any claim")
        expectInvalid(idle.finishRequested(last: nil), "a finish before any claim")
        expectInvalid(idle.releaseRequested(), "a release before any claim")
        expectInvalid(idle.keepAliveDue(outputWritable: true), "a keep-alive before any claim")
        expectInvalid(idle.headWritten(chunked: true), "a head seen by a connection that did not wait for one")
        expectInvalid(idle.armed(keepAlive: registration, endTimer: nil), "arming what did not begin")
        #expect(idle.currentOwnership == .pipeline, "nothing moved")

        var claimed = Machine()
        _ = claimed.claim(forWebSocket: false)
        expectInvalid(claimed.keepAliveDue(outputWritable: true), "a keep-alive before the stream began")
        expectInvalid(claimed.releaseRequested(), "a WebSocket release on an event stream")
        _ = claimed.takeOver(start())
        expectInvalid(claimed.takeOver(start()), "a second take-over")

        var streaming = streaming()
        expectInvalid(streaming.takeOver(start()), "a take-over of a begun stream")
        expectInvalid(streaming.headWritten(chunked: true), "a second head")
        expectInvalid(streaming.armed(keepAlive: registration, endTimer: nil), "arming twice")
        expectInvalid(streaming.releaseRequested(), "a WebSocket release on an event stream")
        #expect(streaming.isStreaming, "nothing moved")

        var socket = Machine()
        _ = socket.claim(forWebSocket: true)
        expectInvalid(socket.whenEnded {}, "an event stream's end handler on a WebSocket")
        expectInvalid(socket.takeOver(start()), "an event stream's take-over of a WebSocket")
        expectInvalid(socket.keepAliveDue(outputWritable: true), "a stream keep-alive on a WebSocket")
        expectInvalid(socket.finishRequested(last: nil), "an event stream's finish on a WebSocket")
        // The safe state: its messages are released.
        #expect(Self.name(socket.frameArrived(ByteBuffer(string: "x"))) == "drop")
        expectInvalid(socket.finishRequested(last: nil), "and again once released")
    }

    @Test func aConnectionCarriesNoMoreStateThanBeforeTheMachine() {
        // The handler's own fields that the machine replaced, as they were laid out: every HTTP
        // connection carries them, so the machine must not be larger.
        struct Before {
            var phase: UInt8
            var opening: AnyObject?
            var chunked: Bool
            var keepAliveFrame: ByteBuffer
            var keepAlive: KeepAliveTicker.Registration?
            var endTimer: Scheduled<Void>?
            var onEnd: (@Sendable () -> Void)?
        }
        #expect(MemoryLayout<Machine>.size <= MemoryLayout<Before>.size)
    }

    /// Lets `#expect` take a mutating call's answer.
    static func answer(_ value: Bool) -> Bool { value }

    static func name(_ value: Any) -> String {
        Mirror(reflecting: value).children.first?.label ?? String(describing: value)
    }
}

struct MachineTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension EventStreamHandoffStateMachine {
    /// `ownership` without the in-place access the handler uses, for `#expect`.
    var currentOwnership: Ownership {
        var copy = self
        return copy.ownership
    }
}
