@testable import EddyServer
import Testing

/// The upstream socket's life without a socket: dialled when something is wanted, the whole
/// list sent on every open, redialled after a doubling backoff, closed when nothing is wanted.
@Suite struct UpstreamStateMachineTests {
    @Test func theFirstWantDialsAndTheOpenSendsTheWholeList() {
        var machine = UpstreamStateMachine()
        #expect(machine.want([]) == .none)
        #expect(machine.want(["cc://a/1"]) == .dial)
        // Wanted while dialling: sent once open, all at once.
        #expect(machine.want(["cc://a/1", "cc://a/2"]) == .none)
        #expect(machine.opened() == .send(["cc://a/1", "cc://a/2"]))
        #expect(machine.want(["cc://a/1", "cc://a/2"]) == .none)
        #expect(machine.want(["cc://a/2"]) == .send(["cc://a/2"]))
        #expect(machine.state == .connected(sent: ["cc://a/2"]))
    }

    @Test func aDropIsRedialledAfterABackoffAndTheListSentAgain() {
        var machine = UpstreamStateMachine()
        _ = machine.want(["cc://a/1"])
        _ = machine.opened()
        #expect(machine.ended() == .retry(after: .milliseconds(500)))
        #expect(machine.retryDue() == .dial)
        // Failed dials back off further, up to a minute.
        #expect(machine.ended() == .retry(after: .seconds(1)))
        #expect(machine.retryDue() == .dial)
        #expect(machine.ended() == .retry(after: .seconds(2)))
        for _ in 0..<10 {
            #expect(machine.retryDue() == .dial)
            _ = machine.ended()
        }
        #expect(machine.retryDue() == .dial)
        guard case .retry(let longest) = machine.ended() else {
            Issue.record("no retry")
            return
        }
        #expect(longest == .seconds(60))
        // A success starts the count again.
        #expect(machine.retryDue() == .dial)
        #expect(machine.opened() == .send(["cc://a/1"]))
        #expect(machine.ended() == .retry(after: .milliseconds(500)))
    }

    @Test func nothingWantedClosesTheSocketAndAWantDuringTheCloseDialsAgain() {
        var machine = UpstreamStateMachine()
        _ = machine.want(["cc://a/1"])
        _ = machine.opened()
        #expect(machine.want([]) == .close)
        #expect(machine.want(["cc://a/3"]) == .none)
        #expect(machine.ended() == .dial)
        #expect(machine.opened() == .send(["cc://a/3"]))
        #expect(machine.want([]) == .close)
        #expect(machine.ended() == .none)
        #expect(machine.state == .idle)
    }

    @Test func nothingWantedDuringABackoffRestsInsteadOfDialling() {
        var machine = UpstreamStateMachine()
        _ = machine.want(["cc://a/1"])
        #expect(machine.ended() == .retry(after: .seconds(1)))
        #expect(machine.want([]) == .none)
        #expect(machine.retryDue() == .none)
        #expect(machine.state == .idle)
    }

    @Test func aStopClosesWhatIsOpenAndWhatADialInFlightOpens() {
        var machine = UpstreamStateMachine()
        _ = machine.want(["cc://a/1"])
        #expect(machine.stop() == .close)
        #expect(machine.opened() == .close)
        #expect(machine.ended() == .none)
        #expect(machine.want(["cc://a/2"]) == .none)
        #expect(machine.retryDue() == .none)
    }

    @Test func impossibleEventsAreReported() {
        var machine = UpstreamStateMachine()
        guard case .invalidTransition = machine.opened() else {
            Issue.record("an open without a dial was taken")
            return
        }
        guard case .invalidTransition = machine.ended() else {
            Issue.record("an end without a socket was taken")
            return
        }
        #expect(machine.state == .idle)
    }
}
