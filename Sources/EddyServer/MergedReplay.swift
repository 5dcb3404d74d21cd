import EddyCore
import Synchronization

/// Holds the live events of a stream over several sources while their history is replayed,
/// merged, from the log; then lets through those the replay did not cover, in the order the
/// hub published them (log order), and every later one as it comes.
final class MergedReplayGate: Sendable {
    private enum State {
        case replaying(pending: [(source: Int, event: HubEvent)])
        case live
        case overrun
    }

    private let state = Mutex(State.replaying(pending: []))
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// What a source's sink does with a live event: deliver it now, or leave it to the gate.
    enum Admission { case deliver, held, overrun }

    func admit(_ event: HubEvent, from source: Int) -> Admission {
        state.withLock { state in
            switch state {
            case .live: return .deliver
            case .overrun: return .overrun
            case .replaying(var pending):
                guard pending.count < limit else {
                    state = .overrun
                    return .overrun
                }
                pending.append((source, event))
                state = .replaying(pending: pending)
                return .held
            }
        }
    }

    /// Ends the replay, which delivered everything up to `replayed`: hands the held events
    /// after it to `deliver`, in order. False when too much was held meanwhile.
    func goLive(after replayed: SequenceNumber, _ deliver: (Int, HubEvent) -> Bool) -> Bool {
        // Delivering under the lock keeps a live event that arrives meanwhile behind the held ones.
        state.withLock { state in
            guard case .replaying(let pending) = state else { return false }
            for (source, event) in pending where event.sequence > replayed {
                guard deliver(source, event) else {
                    state = .overrun
                    return false
                }
            }
            state = .live
            return true
        }
    }
}

/// A source's subscriber behind a `MergedReplayGate`.
final class GatedSubscriber: HubSubscriber {
    static var kind: HubSubscriberKind { .multiplex }
    let gate: MergedReplayGate
    let source: Int
    let inner: any HubSubscriber

    init(gate: MergedReplayGate, source: Int, inner: any HubSubscriber) {
        self.gate = gate
        self.source = source
        self.inner = inner
    }

    func receive(_ event: HubEvent) -> Bool {
        switch gate.admit(event, from: source) {
        case .deliver: inner.receive(event)
        case .held: true
        case .overrun: false
        }
    }

    func hubDidDrop(reason: HubDropReason) {
        inner.hubDidDrop(reason: reason)
    }
}
