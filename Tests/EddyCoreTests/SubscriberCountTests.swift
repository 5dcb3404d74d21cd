import EddyCore
import Foundation
import Synchronization
import Testing

/// The hub keeps its subscribers counted by kind as they come and go, so that a metrics scrape
/// or a status stream reads one entry per subscriber type instead of walking every subscriber
/// under the lock the fan-out needs.
@Suite struct SubscriberCountTests {
    static let watching = HubSubscriberKind(protocolName: "test", transport: "watching")
    static let refusing = HubSubscriberKind(protocolName: "test", transport: "refusing")

    @Test func countsFollowSubscribeCancelEveryDropAndAFailedReplay() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let hub = Hub(store: fixture.store)
        fixture.store.setCommitListener { hub.publish($0) }
        let path = try ResourcePath(parsing: "/counted/x")
        let readable = Watcher(principal: "alice", admits: { _ in true })
        let revocable = Watcher(principal: "mallory", admits: { _ in true })
        func counts() -> [HubSubscriberKind: Int] { hub.subscriberCounts().filter { $0.value != 0 } }

        var handles: [HubSubscription] = []
        for index in 0..<5 {
            let filter: SubscriptionFilter = index.isMultiple(of: 2) ? .value(path) : .subtree(try ResourcePath(parsing: "/counted/"))
            handles.append(try await hub.subscribe(Subscription(filter, watcher: readable), subscriber: CountedWatcher()))
        }
        try await hub.subscribe(Subscription(.value(path), watcher: revocable), subscriber: CountedWatcher())
        try await hub.subscribe(Subscription(.children(try ResourcePath(parsing: "/counted/")), watcher: readable), subscriber: Refusing())
        // Kept open until the shutdown: it is the in-process kind's one subscriber.
        let stream = try await hub.events(Subscription(.value(path), watcher: .server), bufferSize: 8)
        #expect(counts() == [Self.watching: 6, Self.refusing: 1, .inProcess: 1])
        #expect(hub.subscriberCount == 8)

        handles[0].cancel()
        handles[0].cancel()
        #expect(counts() == [Self.watching: 5, Self.refusing: 1, .inProcess: 1])

        // The refusing subscriber is dropped as too slow at the first event it is offered.
        try await fixture.put("/counted/x", "{}")
        #expect(counts() == [Self.watching: 5, .inProcess: 1])

        hub.revoke(where: { _, principal in principal != "mallory" }, reason: "policy reloaded")
        #expect(counts() == [Self.watching: 4, .inProcess: 1])

        // Ended at once: its end is already past.
        let ended = DeliveryPace(endAt: Date(timeIntervalSinceNow: -1))
        try await hub.subscribe(Subscription(.value(path), watcher: readable, pace: ended), subscriber: CountedWatcher())
        #expect(counts() == [Self.watching: 4, .inProcess: 1])

        // A resume the log cannot serve is refused and leaves nothing registered.
        let head = try await fixture.store.headSequence()
        await #expect(throws: StartOver.self) {
            try await hub.subscribe(Subscription(.value(path), watcher: readable, from: .after(head + 1000)), subscriber: CountedWatcher())
        }
        #expect(counts() == [Self.watching: 4, .inProcess: 1])
        #expect(hub.subscriberCount == 5)

        hub.shutdown()
        #expect(counts() == [:])
        #expect(hub.subscriberCount == 0)
        _ = stream
    }

    /// Many subscribers of few types are counted in one entry per type.
    @Test func manySubscribersOfOneTypeAreOneCount() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let hub = Hub(store: fixture.store)
        var handles: [HubSubscription] = []
        for index in 0..<2000 {
            let path = try ResourcePath(parsing: "/many/\(index % 40)")
            handles.append(try await hub.subscribe(Subscription(.value(path), watcher: .server), subscriber: CountedWatcher()))
        }
        #expect(hub.subscriberCounts() == [Self.watching: 2000])
        for handle in handles.prefix(1500) { handle.cancel() }
        #expect(hub.subscriberCounts() == [Self.watching: 500])
        for handle in handles { handle.cancel() }
        #expect(hub.subscriberCounts().isEmpty)
    }
}

private final class CountedWatcher: HubSubscriber {
    var kind: HubSubscriberKind { SubscriberCountTests.watching }
    func receive(_ event: HubEvent) -> Bool { true }
    func hubDidDrop(reason: HubDropReason) {}
}

/// Cannot take anything: the hub drops it as too slow.
private final class Refusing: HubSubscriber {
    var kind: HubSubscriberKind { SubscriberCountTests.refusing }
    func receive(_ event: HubEvent) -> Bool { false }
    func hubDidDrop(reason: HubDropReason) {}
}

// The other tests' subscribers, labelled here so that their files need not know about counts.
extension Recorder { var kind: HubSubscriberKind { HubSubscriberKind(protocolName: "test", transport: "recorder") } }
extension BatchRecorder { var kind: HubSubscriberKind { HubSubscriberKind(protocolName: "test", transport: "batches") } }
extension Ended { var kind: HubSubscriberKind { HubSubscriberKind(protocolName: "test", transport: "ended") } }
