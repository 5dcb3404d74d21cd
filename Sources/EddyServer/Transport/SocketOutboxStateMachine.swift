/// How a `SocketOutbox` ends: its feed finishes it (or the client falls behind) at any time,
/// from any thread, while the socket's takeover arrives once, when the service is set up. The
/// close goes to the takeover as soon as both are there, exactly once. Kept behind the outbox's
/// lock; the machine itself only decides.
///
/// Generic over the takeover so that it is tested without one.
struct SocketOutboxStateMachine<Takeover> {
    enum State {
        /// Open, and served by the handlers' task until a takeover arrives.
        case open
        /// Served from the pipeline by `takeover`.
        case takenOver(Takeover)
        /// Finished before the takeover arrived; it is closed as soon as it does.
        case finishedBeforeTakeover(tooSlow: Bool)
        case finished(tooSlow: Bool)
    }

    private(set) var state = State.open

    enum Action {
        case none
        /// Close the socket after the messages posted before: with 1008 when `tooSlow`.
        case closeAfterMessages(Takeover, tooSlow: Bool)
        /// Safe action: none.
        case invalidTransition(InvalidTransition)
    }

    /// Whether the client fell behind, which decides the close code.
    var tooSlow: Bool {
        switch state {
        case .open, .takenOver: false
        case .finishedBeforeTakeover(let tooSlow), .finished(let tooSlow): tooSlow
        }
    }

    /// The feed is over, or (`tooSlow`) the client did not take its messages.
    mutating func finish(tooSlow: Bool) -> Action {
        switch state {
        case .open:
            state = .finishedBeforeTakeover(tooSlow: tooSlow)
            return .none
        case .takenOver(let takeover):
            state = .finished(tooSlow: tooSlow)
            return .closeAfterMessages(takeover, tooSlow: tooSlow)
        // Finishing again (the feed's end after the client fell behind) closes nothing more,
        // but a client found too slow is remembered for a close still to come.
        case .finishedBeforeTakeover(let already):
            state = .finishedBeforeTakeover(tooSlow: already || tooSlow)
            return .none
        case .finished(let already):
            state = .finished(tooSlow: already || tooSlow)
            return .none
        }
    }

    /// The socket is now served from its pipeline by `takeover`.
    mutating func takenOver(by takeover: Takeover) -> Action {
        switch state {
        case .open:
            state = .takenOver(takeover)
            return .none
        case .finishedBeforeTakeover(let tooSlow):
            state = .finished(tooSlow: tooSlow)
            return .closeAfterMessages(takeover, tooSlow: tooSlow)
        case .takenOver, .finished: return .invalidTransition(.init(event: "takenOver", state: "taken over"))
        }
    }
}
