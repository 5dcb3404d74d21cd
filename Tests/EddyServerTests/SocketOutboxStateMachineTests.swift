import Testing

@testable import EddyServer

/// How a socket's outbox ends, without a socket: the close reaches the takeover exactly once,
/// whichever of the two (the outbox's end, the takeover's arrival) comes first, with 1008 when
/// the client fell behind.
@Suite struct SocketOutboxStateMachineTests {
    /// The takeover is a name here: the machine only hands it back.
    typealias Machine = SocketOutboxStateMachine<String>

    @Test func anOutboxEndingAfterTheTakeoverClosesItOnce() throws {
        var machine = Machine()
        #expect(Self.name(machine.takenOver(by: "socket")) == "none")
        guard case .closeAfterMessages(let takeover, let tooSlow) = machine.finish(tooSlow: false) else {
            throw MachineTestFailure("not closed")
        }
        #expect(takeover == "socket" && !tooSlow)
        #expect(Self.name(machine.finish(tooSlow: false)) == "none", "closed once")
    }

    @Test func anOutboxEndingBeforeTheTakeoverClosesItWhenItArrives() throws {
        var machine = Machine()
        #expect(Self.name(machine.finish(tooSlow: true)) == "none", "nothing to close yet")
        #expect(machine.tooSlow, "the queue's own close reads it")
        guard case .closeAfterMessages(let takeover, let tooSlow) = machine.takenOver(by: "socket") else {
            throw MachineTestFailure("not closed")
        }
        #expect(takeover == "socket" && tooSlow)
    }

    @Test func aClientFoundTooSlowAfterTheEndIsStillSaidToBe() {
        var machine = Machine()
        _ = machine.finish(tooSlow: false)
        _ = machine.finish(tooSlow: true)
        #expect(machine.tooSlow)
        _ = machine.finish(tooSlow: false)
        #expect(machine.tooSlow, "a later normal end does not undo it")
        var taken = Machine()
        _ = taken.takenOver(by: "socket")
        _ = taken.finish(tooSlow: false)
        #expect(Self.name(taken.finish(tooSlow: true)) == "none", "the close already went")
    }

    @Test func aSecondTakeoverIsReportedNotIgnored() {
        var machine = Machine()
        _ = machine.takenOver(by: "socket")
        #expect(Self.name(machine.takenOver(by: "another")) == "invalidTransition")
        _ = machine.finish(tooSlow: false)
        #expect(Self.name(machine.takenOver(by: "another")) == "invalidTransition")
    }

    static func name(_ value: Any) -> String {
        Mirror(reflecting: value).children.first?.label ?? String(describing: value)
    }
}
