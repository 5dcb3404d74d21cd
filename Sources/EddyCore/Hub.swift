import Synchronization

/// In-process fan-out of committed events. Subscribers are indexed by what they watch, so
/// matching an event costs a dictionary lookup per ancestor of its path, not a scan of all
/// subscribers. A subscriber that asks to resume "after N" gets the replay from the log, then
/// live events, with no gap and no duplicate between the two.
public final class Hub: Sendable {
    public struct Configuration: Sendable {
        /// Live events a subscriber may have queued while its replay still runs.
        public var replayBufferLimit: Int
        /// Events read from the log per replay query.
        public var replayPageSize: Int
        /// Long encoding keys held once for all subscribers (`EncodingKeys.limit`).
        public var sharedEncodingKeys: Int
        /// Told of each publish and drop, for metrics.
        public var observer: HubObserver?

        public init(replayBufferLimit: Int = 1024, replayPageSize: Int = 500, sharedEncodingKeys: Int = EncodingKeys.defaultLimit, observer: HubObserver? = nil) {
            self.replayBufferLimit = replayBufferLimit
            self.replayPageSize = replayPageSize
            self.sharedEncodingKeys = sharedEncodingKeys
            self.observer = observer
        }
    }

    private struct Index: ~Copyable {
        var byPath: [ResourcePath: [ObjectIdentifier: Registration]] = [:]
        var byParent: [ResourcePath: [ObjectIdentifier: Registration]] = [:]
        var bySubtree: [ResourcePath: [ObjectIdentifier: Registration]] = [:]
        var count = 0
        var isShutDown = false

        /// The same filter holding the path already indexed, if any: thousands of subscribers of
        /// one resource then share one copy of its path instead of keeping one each.
        func shared(_ filter: SubscriptionFilter) -> SubscriptionFilter {
            func stored(_ table: [ResourcePath: [ObjectIdentifier: Registration]], _ path: ResourcePath) -> ResourcePath {
                table.index(forKey: path).map { table.keys[$0] } ?? path
            }
            switch filter {
            case .value(let path): return .value(stored(byPath, path))
            case .children(let path): return .children(stored(byParent, path))
            case .subtree(let path): return .subtree(stored(bySubtree, path))
            }
        }

        mutating func insert(_ registration: Registration) {
            let key = ObjectIdentifier(registration)
            switch registration.filter {
            case .value(let path): byPath[path, default: [:]][key] = registration
            case .children(let path): byParent[path, default: [:]][key] = registration
            case .subtree(let path): bySubtree[path, default: [:]][key] = registration
            }
            count += 1
        }

        mutating func remove(_ registration: Registration) -> Bool {
            let key = ObjectIdentifier(registration)
            func take(_ table: inout [ResourcePath: [ObjectIdentifier: Registration]], _ path: ResourcePath) -> Bool {
                guard table[path]?.removeValue(forKey: key) != nil else { return false }
                if table[path]?.isEmpty == true { table.removeValue(forKey: path) }
                return true
            }
            let removed: Bool
            switch registration.filter {
            case .value(let path): removed = take(&byPath, path)
            case .children(let path): removed = take(&byParent, path)
            case .subtree(let path): removed = take(&bySubtree, path)
            }
            if removed { count -= 1 }
            return removed
        }

        /// Calls `body` with each group of subscribers watching `path`: those of one filter.
        func forEachGroup(watching path: ResourcePath, _ body: (SubscriptionFilter, [ObjectIdentifier: Registration]) -> Void) {
            if let exact = byPath[path] { body(.value(path), exact) }
            if !path.isCollection, let parent = path.parent, let siblings = byParent[parent] {
                body(.children(parent), siblings)
            }
            if !bySubtree.isEmpty {
                for ancestor in path.ancestors {
                    if let watchers = bySubtree[ancestor] { body(.subtree(ancestor), watchers) }
                }
                if path.isCollection, let watchers = bySubtree[path] { body(.subtree(path), watchers) }
            }
        }
    }

    public let store: any ResourceStore
    public let configuration: Configuration
    private let index = Mutex(Index())
    /// Shared copies of subscribers' encoding keys, for them to hold instead of their own.
    public let encodingKeys: EncodingKeys
    /// Publishing is serialised so that every subscriber sees events in sequence order.
    private let publishing = Mutex(())

    public init(store: any ResourceStore, configuration: Configuration = .init()) {
        self.store = store
        self.configuration = configuration
        self.encodingKeys = EncodingKeys(limit: configuration.sharedEncodingKeys)
    }

    public var subscriberCount: Int { index.withLock { $0.count } }

    /// Subscribes `subscriber` to `filter`. With `after`, first replays the logged events after
    /// that position; throws `StoreError.historyTruncated` when they are no longer retained.
    /// - Parameters:
    ///   - principal: who subscribed (nil for anonymous), so `revoke` can re-check access.
    ///   - admits: a per-event check for subscriptions whose filter covers paths the principal
    ///     may not all see (a subtree with stricter rules below it); nil admits everything.
    @discardableResult
    public func subscribe(
        _ filter: SubscriptionFilter,
        after: SequenceNumber? = nil,
        subscriber: any HubSubscriber,
        principal: String? = nil,
        admits: (@Sendable (ResourcePath) -> Bool)? = nil
    ) async throws -> HubSubscription {
        let registration = index.withLock { index -> Registration? in
            guard !index.isShutDown else { return nil }
            let registration = Registration(
                filter: index.shared(filter), subscriber: subscriber, replayingFrom: after, principal: principal, admits: admits)
            index.insert(registration)
            return registration
        }
        guard let registration else { throw HubDropReason.shutdown }
        let subscription = HubSubscription(hub: self, registration: registration)
        guard let after else { return subscription }
        do {
            var cursor = after
            while true {
                let page = try await store.events(after: cursor, matching: filter, limit: configuration.replayPageSize)
                for change in page {
                    guard registration.deliverReplayed(HubEvent(change)) else {
                        drop(registration, reason: .tooSlow)
                        return subscription
                    }
                    cursor = change.sequence
                }
                if page.count < configuration.replayPageSize { break }
            }
            if !registration.finishReplay() {
                drop(registration, reason: .tooSlow)
            }
        } catch {
            _ = index.withLock { $0.remove(registration) }
            registration.close()
            throw error
        }
        return subscription
    }

    /// Delivers committed events to every matching subscriber. Called by the store's commit
    /// listener, in sequence order. Subscribers of one filter that take batches get all of the
    /// call's events for that filter at once; the others get them one by one, in sequence order
    /// across all of them.
    public func publish(_ changes: [ChangeEvent]) {
        publishing.withLock { _ in
            let events = changes.map(HubEvent.init)
            // Each filter's subscribers (as they were when it first matched) and its events.
            var groups: [SubscriptionFilter: (registrations: [ObjectIdentifier: Registration], events: [HubEvent])] = [:]
            var groupsOfEvent: [[SubscriptionFilter]] = []
            groupsOfEvent.reserveCapacity(events.count)
            index.withLock { index in
                for event in events {
                    var matched: [SubscriptionFilter] = []
                    index.forEachGroup(watching: event.change.path) { filter, registrations in
                        groups[filter, default: (registrations, [])].events.append(event)
                        matched.append(filter)
                    }
                    groupsOfEvent.append(matched)
                }
            }
            var oneByOne: [SubscriptionFilter: [Registration]] = [:]
            var offers = 0
            defer { configuration.observer?.published(events.count, offers) }
            for (filter, group) in groups {
                offers += group.registrations.count * group.events.count
                let batch = HubEventBatch(group.events)
                // Gathered per group and stored once: a lookup per registration would hash the
                // filter's path once per subscriber.
                var singles: [Registration] = []
                for registration in group.registrations.values {
                    if registration.takesBatches {
                        settle(registration, registration.offer(batch, bufferLimit: configuration.replayBufferLimit))
                    } else {
                        singles.append(registration)
                    }
                }
                if !singles.isEmpty { oneByOne[filter] = singles }
            }
            guard !oneByOne.isEmpty else { return }
            for (event, filters) in zip(events, groupsOfEvent) {
                for filter in filters {
                    for registration in oneByOne[filter] ?? [] {
                        settle(registration, registration.offer(event, bufferLimit: configuration.replayBufferLimit))
                    }
                }
            }
        }
    }

    private func settle(_ registration: Registration, _ offer: Registration.Offer) {
        switch offer {
        case .delivered, .ignored: break
        case .rejected: drop(registration, reason: .tooSlow)
        case .overrun: drop(registration, reason: .replayOverrun)
        }
    }

    /// Drops every subscriber for which `isAllowed(filter, principal)` no longer holds, telling
    /// each why. Used when an access policy is reloaded.
    public func revoke(where isAllowed: (SubscriptionFilter, String?) -> Bool, reason: String) {
        var revoked: [Registration] = []
        index.withLock { index in
            for table in [index.byPath, index.byParent, index.bySubtree] {
                for registrations in table.values {
                    for registration in registrations.values where !isAllowed(registration.filter, registration.principal) {
                        revoked.append(registration)
                    }
                }
            }
        }
        for registration in revoked { drop(registration, reason: .revoked(reason)) }
    }

    /// Drops every subscriber and refuses new ones.
    public func shutdown() {
        var all: [Registration] = []
        index.withLock { index in
            index.isShutDown = true
            for table in [index.byPath, index.byParent, index.bySubtree] {
                for registrations in table.values { all.append(contentsOf: registrations.values) }
            }
        }
        for registration in all { drop(registration, reason: .shutdown) }
    }

    /// How many subscribers of each type are registered. Walks the whole index under its lock:
    /// meant for a metrics scrape every few seconds, not for the fan-out.
    public func subscriberCountsByType() -> [ObjectIdentifier: (type: any HubSubscriber.Type, count: Int)] {
        index.withLock { index in
            var counts: [ObjectIdentifier: (type: any HubSubscriber.Type, count: Int)] = [:]
            for table in [index.byPath, index.byParent, index.bySubtree] {
                for registrations in table.values {
                    for registration in registrations.values {
                        let type = Swift.type(of: registration.subscriber)
                        counts[ObjectIdentifier(type), default: (type, 0)].count += 1
                    }
                }
            }
            return counts
        }
    }

    func cancel(_ registration: Registration) {
        _ = index.withLock { $0.remove(registration) }
        registration.close()
    }

    private func drop(_ registration: Registration, reason: HubDropReason) {
        let removed = index.withLock { $0.remove(registration) }
        if removed, registration.close() {
            configuration.observer?.dropped(reason)
            registration.subscriber.hubDidDrop(reason: reason)
        }
    }
}

/// A live subscription; `cancel()` stops delivery. Cancelling twice is harmless.
public struct HubSubscription: Sendable {
    let hub: Hub
    let registration: Registration

    public func cancel() {
        hub.cancel(registration)
    }
}

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
    let admits: (@Sendable (ResourcePath) -> Bool)?
    private let gate: Mutex<Gate>

    init(
        filter: SubscriptionFilter, subscriber: any HubSubscriber, replayingFrom after: SequenceNumber?, principal: String?,
        admits: (@Sendable (ResourcePath) -> Bool)?
    ) {
        self.filter = filter
        self.subscriber = subscriber
        takesBatches = subscriber.takesBatches
        self.principal = principal
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

    /// Returns whether this call closed it (false when it was closed already).
    @discardableResult
    func close() -> Bool {
        gate.withLock { gate in
            if case .closed = gate { return false }
            gate = .closed
            return true
        }
    }
}
