import Synchronization

/// One subscriber's place in the hub, with the gate that orders replayed and live events.
final class Registration: Sendable {
    enum Offer {
        case delivered, ignored, rejected, overrun
    }

    private enum Gate {
        /// Replay from the log runs; live events wait in `pending`.
        case replaying(pending: [HubEvent], lastDelivered: SequenceNumber)
        case live(lastDelivered: SequenceNumber)
        case closed
    }

    let filter: SubscriptionFilter
    /// Read once: the hub asks for every publish. (Declared next to `filter`, it fits in that
    /// enum's padding: thousands of registrations carry it.)
    let takesBatches: Bool
    let subscriber: any HubSubscriber
    let principal: String?
    let answersToPolicy: Bool
    let admits: (@Sendable (ResourcePath) -> Bool)?
    private let gate: Mutex<Gate>
    /// The wait for `endAt`, cancelled with the registration.
    private let ending = Mutex<Task<Void, Never>?>(nil)

    init(
        filter: SubscriptionFilter, subscriber: any HubSubscriber, replayingFrom after: SequenceNumber?, watcher: Watcher,
        admits: (@Sendable (ResourcePath) -> Bool)?
    ) {
        self.filter = filter
        self.subscriber = subscriber
        takesBatches = subscriber.takesBatches
        self.principal = watcher.principal
        self.answersToPolicy = watcher.answersToPolicy
        self.admits = admits
        if let after {
            gate = Mutex(.replaying(pending: [], lastDelivered: after))
        } else {
            gate = Mutex(.live(lastDelivered: 0))
        }
    }

    func offer(_ event: HubEvent, bufferLimit: Int) -> Offer {
        gate.withLock { gate in
            switch gate {
            case .closed:
                return .ignored
            case .replaying(var pending, let last):
                guard pending.count < bufferLimit else { return .overrun }
                pending.append(event)
                gate = .replaying(pending: pending, lastDelivered: last)
                return .delivered
            case .live(let last):
                guard event.sequence > last else { return .ignored }
                guard admits?(event.change.path) ?? true else { return .ignored }
                guard subscriber.receive(event) else { return .rejected }
                gate = .live(lastDelivered: event.sequence)
                return .delivered
            }
        }
    }

    func offer(_ batch: HubEventBatch, bufferLimit: Int) -> Offer {
        gate.withLock { gate in
            switch gate {
            case .closed:
                return .ignored
            case .replaying(var pending, let last):
                guard pending.count + batch.events.count <= bufferLimit else { return .overrun }
                pending.append(contentsOf: batch.events)
                gate = .replaying(pending: pending, lastDelivered: last)
                return .delivered
            case .live(let last):
                // Usually all of it goes: the batch is shared, with its encodings.
                var taken = batch
                if let first = batch.events.first, first.sequence <= last || admits != nil {
                    let admitted = batch.events.filter { $0.sequence > last && (admits?($0.change.path) ?? true) }
                    guard !admitted.isEmpty else { return .ignored }
                    if admitted.count < batch.events.count { taken = HubEventBatch(admitted) }
                }
                guard let newest = taken.events.last else { return .ignored }
                guard subscriber.receive(batch: taken) else { return .rejected }
                gate = .live(lastDelivered: newest.sequence)
                return .delivered
            }
        }
    }

    func deliverReplayed(_ event: HubEvent) -> Bool {
        gate.withLock { gate in
            guard case .replaying(let pending, let last) = gate else { return false }
            guard event.sequence > last else { return true }
            guard admits?(event.change.path) ?? true else { return true }
            guard subscriber.receive(event) else { return false }
            gate = .replaying(pending: pending, lastDelivered: event.sequence)
            return true
        }
    }

    /// Hands over from replay to live: queued live events the replay already covered are
    /// skipped by sequence number, the rest delivered in order.
    func finishReplay() -> Bool {
        gate.withLock { gate in
            guard case .replaying(let pending, var last) = gate else { return false }
            for event in pending where event.sequence > last {
                last = event.sequence
                guard admits?(event.change.path) ?? true else { continue }
                guard subscriber.receive(event) else { return false }
            }
            gate = .live(lastDelivered: last)
            return true
        }
    }

    /// Stored before the gate is looked at, as `close` closes the gate before it looks here:
    /// whichever runs second cancels the wait.
    func setEnding(_ task: Task<Void, Never>) {
        ending.withLock { $0 = task }
        if gate.withLock({ if case .closed = $0 { true } else { false } }) { task.cancel() }
    }

    /// Returns whether this call closed it (false when it was closed already).
    @discardableResult
    func close() -> Bool {
        let closed = gate.withLock { gate in
            if case .closed = gate { return false }
            gate = .closed
            return true
        }
        ending.withLock { $0 }?.cancel()
        return closed
    }
}
