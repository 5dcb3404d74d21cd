/// Several things watched as one feed (a multiplexed stream): one watcher, one start in the
/// log and one pace for all of them. Resuming, the feed replays them merged in log order — one
/// filter after another would hand the client a later position before earlier events of the
/// others, and a client resuming from it would never get those.
public struct SubscriptionGroup: Sendable {
    public let filters: [SubscriptionFilter]
    public let watcher: Watcher
    public var start: ResumePosition
    public var pace: DeliveryPace

    public init(_ filters: [SubscriptionFilter], watcher: Watcher, from start: ResumePosition = .now, pace: DeliveryPace = .unpaced) {
        self.filters = filters
        self.watcher = watcher
        self.start = start
        self.pace = pace
    }

    /// The subscription of each filter, from `start` on.
    public var members: [Subscription] {
        filters.map { Subscription($0, watcher: watcher, from: start, pace: pace) }
    }
}

extension Hub {
    /// Starts `group`, `subscribers[i]` taking the events of `filters[i]`, one at a time in
    /// sequence order across all of them (none takes batches). Resuming several filters,
    /// their history is replayed merged in log order while live events wait at a gate, then
    /// the held events the replay did not cover follow: no gap, no duplicate. Each event only
    /// when the watcher admits it; each member ends at `pace.endAt`. Throws `StartOver` when
    /// the log cannot replay from the start; a feed that ends before it is live (too slow,
    /// `replayOverrun`, a member dropped meanwhile) tells every subscriber once and returns
    /// no subscriptions. Registers nothing that outlives a failure.
    public func subscribe(_ group: SubscriptionGroup, subscribers: [any HubSubscriber]) async throws -> [HubSubscription] {
        precondition(subscribers.count == group.filters.count, "one subscriber per filter")
        let members = group.members
        guard let after = group.start.sequence, members.count > 1 else {
            return try await subscribeEach(members, subscribers)
        }
        return try await subscribeMerged(members, after: after, subscribers: subscribers)
    }

    /// Subscribes `subscribers[i]` to `members[i]`, all or none: a failure cancels those
    /// already made.
    private func subscribeEach(_ members: [Subscription], _ subscribers: [any HubSubscriber]) async throws -> [HubSubscription] {
        var subscriptions: [HubSubscription] = []
        do {
            for (member, subscriber) in zip(members, subscribers) {
                subscriptions.append(try await subscribe(member, subscriber: subscriber))
            }
        } catch {
            for subscription in subscriptions { subscription.cancel() }
            throw error
        }
        return subscriptions
    }

    /// Live first (held at a gate), then the history of every member merged in log order,
    /// then the held events the history missed.
    private func subscribeMerged(_ members: [Subscription], after: SequenceNumber, subscribers: [any HubSubscriber]) async throws -> [HubSubscription] {
        let gate = MergedReplayGate(limit: configuration.replayBufferLimit)
        let live = members.map { member in
            var live = member
            live.start = .now
            return live
        }
        let gated = subscribers.indices.map { GatedSubscriber(gate: gate, source: $0, inner: subscribers[$0]) }
        let subscriptions = try await subscribeEach(live, gated)
        let admissions = members.map(\.eventAdmission)
        let ending: (reason: HubDropReason, counted: Bool)?
        do {
            ending = try await replay(members.map(\.filter), after: after, admissions: admissions, subscribers: subscribers, gate: gate)
        } catch {
            for subscription in subscriptions { subscription.cancel() }
            throw StartOver(error) ?? error
        }
        guard let ending else { return subscriptions }
        for subscription in subscriptions { subscription.cancel() }
        for subscriber in subscribers {
            if !ending.counted { configuration.observer?.dropped(ending.reason) }
            subscriber.hubDidDrop(reason: ending.reason)
        }
        return []
    }

    /// Delivers the merged history, then opens the gate; returns why the feed ends instead of
    /// going live, if it must.
    private func replay(
        _ filters: [SubscriptionFilter], after: SequenceNumber, admissions: [(@Sendable (ResourcePath) -> Bool)?],
        subscribers: [any HubSubscriber], gate: MergedReplayGate
    ) async throws -> (reason: HubDropReason, counted: Bool)? {
        // Read once every member is registered: whatever comes after it is held at the gate.
        let head = try await store.headSequence()
        var reader = MergedLogReader(store: store, filters: filters, after: after, through: head, pageSize: configuration.replayPageSize)
        while let (change, matched) = try await reader.next() {
            if let ending = gate.endReason { return ending }
            let event = HubEvent(change)
            for index in matched where admissions[index]?(change.path) ?? true {
                guard subscribers[index].receive(event) else { return (.tooSlow, false) }
            }
        }
        // The replay covered everything up to `head`. Held events passed the member's admission
        // when the hub offered them.
        return gate.goLive(after: max(head, after)) { index, event in subscribers[index].receive(event) }
    }
}
