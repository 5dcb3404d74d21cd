/// The life of one upstream realtime socket to another Concrnt server, without the socket:
/// it is open while something here watches a resource that lives there, carries the whole
/// list of those resources (sent again after every reconnect), and after a drop is dialled
/// again after a backoff that doubles up to a minute. Events return the action to take.
struct UpstreamStateMachine: Sendable {
    enum State: Sendable, Equatable {
        /// Nothing wanted, no socket.
        case idle
        /// A dial is in flight; `attempt` counts the failures before it.
        case connecting(attempt: Int)
        /// Open; `sent` is the list the other server holds.
        case connected(sent: [String])
        /// Dropped; the next dial waits for `retryDue`.
        case waiting(attempt: Int)
        /// Nothing is wanted any more and the socket is being closed.
        case closing
        case stopped
    }

    enum Action: Sendable, Equatable {
        case none
        case dial
        /// Send this subscription list, replacing the one the other server holds.
        case send([String])
        case close
        /// Call `retryDue` after this long.
        case retry(after: Duration)
        case invalidTransition(InvalidTransition)
    }

    static let firstRetry = Duration.milliseconds(500)
    static let longestRetry = Duration.seconds(60)

    private(set) var state = State.idle
    /// What the socket should carry, in a stable order.
    private(set) var wanted: [String] = []

    static func backoff(afterFailures failures: Int) -> Duration {
        let doublings = min(max(failures, 0), 7)
        return min(firstRetry * (1 << doublings), longestRetry)
    }

    /// The list changed (`resources` is the whole of it).
    mutating func want(_ resources: [String]) -> Action {
        wanted = resources
        switch state {
        case .idle:
            guard !resources.isEmpty else { return .none }
            state = .connecting(attempt: 0)
            return .dial
        case .connected(let sent):
            if resources.isEmpty {
                state = .closing
                return .close
            }
            guard resources != sent else { return .none }
            state = .connected(sent: resources)
            return .send(resources)
        case .connecting, .waiting, .closing, .stopped:
            // Sent once connected; a waiting or closing socket looks at the list when it moves on.
            return .none
        }
    }

    /// The socket opened.
    mutating func opened() -> Action {
        // Stopped while the dial was in flight: close what it opened.
        if case .stopped = state { return .close }
        guard case .connecting = state else { return .invalidTransition(InvalidTransition(event: "opened", state: "not connecting")) }
        guard !wanted.isEmpty else {
            state = .closing
            return .close
        }
        state = .connected(sent: wanted)
        return .send(wanted)
    }

    /// The socket closed, or the dial failed.
    mutating func ended() -> Action {
        switch state {
        case .connecting(let attempt):
            return waitOrRest(failures: attempt + 1)
        case .connected:
            return waitOrRest(failures: 0)
        case .closing:
            guard !wanted.isEmpty else {
                state = .idle
                return .none
            }
            state = .connecting(attempt: 0)
            return .dial
        case .stopped:
            return .none
        case .idle, .waiting:
            return .invalidTransition(InvalidTransition(event: "ended", state: "without a socket"))
        }
    }

    /// The backoff is over.
    mutating func retryDue() -> Action {
        guard case .waiting(let attempt) = state else { return .none }
        guard !wanted.isEmpty else {
            state = .idle
            return .none
        }
        state = .connecting(attempt: attempt)
        return .dial
    }

    /// The server stops: close whatever is open, dial nothing more.
    mutating func stop() -> Action {
        let hadSocket: Bool
        switch state {
        case .connecting, .connected, .closing: hadSocket = true
        case .idle, .waiting, .stopped: hadSocket = false
        }
        state = .stopped
        return hadSocket ? .close : .none
    }

    private mutating func waitOrRest(failures: Int) -> Action {
        guard !wanted.isEmpty else {
            state = .idle
            return .none
        }
        state = .waiting(attempt: failures)
        return .retry(after: Self.backoff(afterFailures: failures))
    }
}
