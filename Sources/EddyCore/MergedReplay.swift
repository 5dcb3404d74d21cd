import Synchronization

/// Holds the live events of a feed over several filters while their history is replayed,
/// merged, from the log; then lets through those the replay did not cover, in the order the
/// hub published them (log order), and every later one as it comes. It also remembers why the
/// feed must end, when that happens before it is live, so the replay can end all of it at once.
final class MergedReplayGate: Sendable {
    private enum State {
        case replaying(pending: [(source: Int, event: HubEvent)])
        /// The replay delivered everything up to `covered`. An event the log held then may still
        /// be published after that (the commit listener runs after the commit): not again.
        case live(covered: SequenceNumber)
        /// `counted`: the hub dropped a member for this reason and told its observer already.
        case ended(HubDropReason, counted: Bool)
    }

    private let state = Mutex(State.replaying(pending: []))
    /// The most live events held during the replay (`Hub.Configuration.replayBufferLimit`).
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// What a member's subscriber does with a live event: deliver it now, or leave it to the gate.
    enum Admission { case deliver, held, ignored }

    func admit(_ event: HubEvent, from source: Int) -> Admission {
        state.withLock { state in
            switch state {
            case .live(let covered): return event.sequence > covered ? .deliver : .ignored
            case .ended: return .ignored
            case .replaying(var pending):
                guard pending.count < limit else {
                    state = .ended(.replayOverrun, counted: false)
                    return .ignored
                }
                pending.append((source, event))
                state = .replaying(pending: pending)
                return .held
            }
        }
    }

    /// A member was dropped by the hub. Before the feed is live the whole feed ends (true: the
    /// replay tells every subscriber); once live, only that member does (false).
    func memberDropped(_ reason: HubDropReason) -> Bool {
        state.withLock { state in
            switch state {
            case .live: return false
            case .ended: return true
            case .replaying:
                state = .ended(reason, counted: true)
                return true
            }
        }
    }

    /// Why the feed must end, once it must (checked by the replay between events).
    var endReason: (reason: HubDropReason, counted: Bool)? {
        state.withLock { state in
            if case .ended(let reason, let counted) = state { return (reason, counted) }
            return nil
        }
    }

    /// Ends the replay, which delivered everything up to `replayed`: hands the held events
    /// after it to `deliver`, in order. Returns why the feed ends instead, if it must.
    func goLive(after replayed: SequenceNumber, _ deliver: (Int, HubEvent) -> Bool) -> (reason: HubDropReason, counted: Bool)? {
        // Delivering under the lock keeps a live event that arrives meanwhile behind the held ones.
        state.withLock { state in
            switch state {
            case .live: return nil
            case .ended(let reason, let counted): return (reason, counted)
            case .replaying(let pending):
                for (source, event) in pending where event.sequence > replayed {
                    guard deliver(source, event) else {
                        state = .ended(.tooSlow, counted: false)
                        return (.tooSlow, false)
                    }
                }
                state = .live(covered: replayed)
                return nil
            }
        }
    }
}

/// A member's subscriber behind a `MergedReplayGate`, counted as the kind it feeds.
final class GatedSubscriber: HubSubscriber {
    let gate: MergedReplayGate
    let source: Int
    let inner: any HubSubscriber
    var kind: HubSubscriberKind { inner.kind }

    init(gate: MergedReplayGate, source: Int, inner: any HubSubscriber) {
        self.gate = gate
        self.source = source
        self.inner = inner
    }

    func receive(_ event: HubEvent) -> Bool {
        switch gate.admit(event, from: source) {
        case .deliver: inner.receive(event)
        // An overrun ends the whole feed from the replay, with its own reason, not this member
        // alone as too slow.
        case .held, .ignored: true
        }
    }

    func hubDidDrop(reason: HubDropReason) {
        if !gate.memberDropped(reason) { inner.hubDidDrop(reason: reason) }
    }
}
