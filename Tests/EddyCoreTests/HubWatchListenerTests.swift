import EddyCore
import Synchronization
import Testing

/// The hub tells its watch listener when a filter gets its first subscriber and loses its
/// last — by cancel, by drop, by a failed resume — and never in between.
@Suite struct HubWatchListenerTests {
    @Test func onlyTheFirstAndTheLastSubscriberOfAFilterAreTold() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let hub = Hub(store: fixture.store)
        let told = Mutex<[String]>([])
        hub.setWatchListener { filter, watched in told.withLock { $0.append("\(watched ? "+" : "-")\(filter)") } }
        let value = SubscriptionFilter.value(try ResourcePath(parsing: "/a"))
        let children = SubscriptionFilter.children(try ResourcePath(parsing: "/a/"))

        let first = try await hub.subscribe(Subscription(value, watcher: .server), subscriber: Recorder())
        let second = try await hub.subscribe(Subscription(value, watcher: .server), subscriber: Recorder())
        let other = try await hub.subscribe(Subscription(children, watcher: .server), subscriber: Recorder())
        #expect(told.withLock { $0 } == ["+value /a", "+children /a/"])
        #expect(hub.isWatched(value) && hub.isWatched(children))
        first.cancel()
        #expect(told.withLock { $0.count } == 2)
        second.cancel()
        second.cancel()
        other.cancel()
        #expect(told.withLock { $0 } == ["+value /a", "+children /a/", "-value /a", "-children /a/"])
        #expect(!hub.isWatched(value))
    }

    @Test func aDroppedLastSubscriberIsTold() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let hub = Hub(store: fixture.store)
        let told = Mutex<[Bool]>([])
        hub.setWatchListener { _, watched in told.withLock { $0.append(watched) } }
        _ = try await hub.subscribe(Subscription(.value(try ResourcePath(parsing: "/b")), watcher: .server), subscriber: Recorder())
        hub.shutdown()
        #expect(told.withLock { $0 } == [true, false])
    }
}
