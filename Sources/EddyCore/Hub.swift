import Foundation
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
        /// Subscribers counted by kind, kept at insert and remove so that counting them reads
        /// one entry per kind instead of walking the index under its lock.
        var byKind: [HubSubscriberKind: Int] = [:]
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

        /// Returns whether the registration is the first of its filter.
        mutating func insert(_ registration: Registration) -> Bool {
            let key = ObjectIdentifier(registration)
            func put(_ table: inout [ResourcePath: [ObjectIdentifier: Registration]], _ path: ResourcePath) -> Bool {
                let first = table[path] == nil
                table[path, default: [:]][key] = registration
                return first
            }
            let first: Bool
            switch registration.filter {
            case .value(let path): first = put(&byPath, path)
            case .children(let path): first = put(&byParent, path)
            case .subtree(let path): first = put(&bySubtree, path)
            }
            count += 1
            byKind[registration.subscriber.kind, default: 0] += 1
            return first
        }

        /// Whether any registration watches `filter`.
        func isWatched(_ filter: SubscriptionFilter) -> Bool {
            switch filter {
            case .value(let path): byPath[path] != nil
            case .children(let path): byParent[path] != nil
            case .subtree(let path): bySubtree[path] != nil
            }
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
            if removed {
                count -= 1
                let kind = registration.subscriber.kind
                if let count = byKind[kind], count > 1 {
                    byKind[kind] = count - 1
                } else {
                    byKind.removeValue(forKey: kind)
                }
            }
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
    /// Told when a filter gets its first subscriber (`true`) and loses its last (`false`).
    private let watchListener = Mutex<(@Sendable (SubscriptionFilter, Bool) -> Void)?>(nil)

    public init(store: any ResourceStore, configuration: Configuration = .init()) {
        self.store = store
        self.configuration = configuration
        self.encodingKeys = EncodingKeys(limit: configuration.sharedEncodingKeys)
    }

    public var subscriberCount: Int { index.withLock { $0.count } }

    /// Sets who is told when a filter gets its first subscriber and loses its last: the
    /// federation, which watches another server only while someone here watches its resources.
    /// Called outside the hub's lock, and only on those two edges, never per event.
    public func setWatchListener(_ listener: @escaping @Sendable (SubscriptionFilter, _ watched: Bool) -> Void) {
        watchListener.withLock { $0 = listener }
    }

    /// Whether anyone watches exactly `filter` now.
    public func isWatched(_ filter: SubscriptionFilter) -> Bool {
        index.withLock { $0.isWatched(filter) }
    }

    private func told(_ filter: SubscriptionFilter, watched: Bool) {
        watchListener.withLock { $0 }?(filter, watched)
    }

    /// Starts `subscription` for `subscriber`: from its start position, first the logged events
    /// after it, then live ones; each event only when the watcher admits it; ended with
    /// `HubDropReason.ended` at `pace.endAt`. Throws `StartOver` when the log cannot replay
    /// from the start position.
    @discardableResult
    public func subscribe(_ subscription: Subscription, subscriber: any HubSubscriber) async throws -> HubSubscription {
        let after = subscription.start.sequence
        let inserted = index.withLock { index -> (Registration, first: Bool)? in
            guard !index.isShutDown else { return nil }
            let registration = Registration(
                filter: index.shared(subscription.filter), subscriber: subscriber, replayingFrom: after, watcher: subscription.watcher,
                admits: subscription.eventAdmission)
            return (registration, index.insert(registration))
        }
        guard let (registration, first) = inserted else { throw HubDropReason.shutdown }
        if first { told(subscription.filter, watched: true) }
        let handle = HubSubscription(hub: self, registration: registration)
        if let after {
            do {
                try await replay(registration, filter: subscription.filter, after: after)
            } catch {
                removeAndTell(registration)
                registration.close()
                throw StartOver(error) ?? error
            }
        }
        if let endAt = subscription.pace.endAt { end(registration, at: endAt) }
        return handle
    }

    private func replay(_ registration: Registration, filter: SubscriptionFilter, after: SequenceNumber) async throws {
        var cursor = after
        while true {
            let page = try await store.events(after: cursor, matching: filter, limit: configuration.replayPageSize)
            for change in page {
                guard registration.deliverReplayed(HubEvent(change)) else {
                    drop(registration, reason: .tooSlow)
                    return
                }
                cursor = change.sequence
            }
            if page.count < configuration.replayPageSize { break }
        }
        if !registration.finishReplay() {
            drop(registration, reason: .tooSlow)
        }
    }

    /// Drops the registration at `endAt`; cancelling it cancels the wait.
    private func end(_ registration: Registration, at endAt: Date) {
        let delay = endAt.timeIntervalSinceNow
        guard delay > 0 else {
            drop(registration, reason: .ended)
            return
        }
        // A client may name an end years away: the wait is capped so that it is always a
        // valid duration, and a subscription living that long is re-checked then.
        let seconds = min(delay, 366 * 86_400)
        registration.setEnding(
            Task { [weak self] in
                try? await Task.sleep(for: .seconds(seconds))
                guard !Task.isCancelled, let self else { return }
                if endAt.timeIntervalSinceNow <= 0 {
                    self.drop(registration, reason: .ended)
                } else {
                    self.end(registration, at: endAt)
                }
            })
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
                    for registration in registrations.values
                    where registration.answersToPolicy && !isAllowed(registration.filter, registration.principal) {
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

    /// How many subscribers of each kind are registered: one step per kind, kept
    /// cheap because a metrics scrape or status stream may ask while the fan-out needs the lock.
    public func subscriberCounts() -> [HubSubscriberKind: Int] {
        index.withLock { index in
            index.byKind
        }
    }

    func cancel(_ registration: Registration) {
        removeAndTell(registration)
        registration.close()
    }

    /// Removes the registration; returns whether it was still registered.
    @discardableResult
    private func removeAndTell(_ registration: Registration) -> Bool {
        let (removed, last) = index.withLock { index in
            let removed = index.remove(registration)
            return (removed, removed && !index.isWatched(registration.filter))
        }
        if last { told(registration.filter, watched: false) }
        return removed
    }

    private func drop(_ registration: Registration, reason: HubDropReason) {
        let removed = removeAndTell(registration)
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
