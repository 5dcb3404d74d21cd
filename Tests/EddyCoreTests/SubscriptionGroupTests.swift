import EddyCore
import Foundation
import Synchronization
import Testing

/// A feed over several filters from one position (`Hub.subscribe(_: SubscriptionGroup, …)`),
/// with a real store: merged replay in log order, the hand-over to live, its ends.
@Suite struct SubscriptionGroupTests {
    static func path(_ text: String) throws -> ResourcePath { try ResourcePath(parsing: text) }

    @Test func aResumedGroupGetsEveryEventInLogOrderOnceWhileWritesStream() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let hub = Hub(store: fixture.store, configuration: .init(replayBufferLimit: 10_000, replayPageSize: 4))
        fixture.store.setCommitListener { hub.publish($0) }
        let filters: [SubscriptionFilter] = [.value(try Self.path("/g/a")), .children(try Self.path("/g/c/")), .subtree(try Self.path("/g/t/"))]
        let paths = ["/g/a", "/g/c/1", "/g/t/x/y", "/g/other", "/g/c/2", "/g/t/z", "/elsewhere"]
        let total: UInt64 = 500
        let writer = Task {
            for index in 0..<total { try await fixture.put(paths[Int(index) % paths.count], #"{"i":\#(index)}"#) }
        }
        // Several feeds, each resuming while the writes go on: a filter that runs out of history
        // before the others must not leave a hole where its later events were.
        var feeds: [(resumeFrom: UInt64, log: FeedLog, subscriptions: [HubSubscription])] = []
        for head: UInt64 in stride(from: 60, through: 420, by: 60) {
            while try await fixture.store.headSequence() < head { await Task.yield() }
            let log = FeedLog()
            let subscribers = filters.indices.map { FeedRecorder(source: $0, log: log) }
            let resumeFrom = head - 40
            let subscriptions = try await hub.subscribe(SubscriptionGroup(filters, watcher: .server, from: .after(resumeFrom)), subscribers: subscribers)
            #expect(subscriptions.count == 3)
            feeds.append((resumeFrom, log, subscriptions))
        }
        try await writer.value

        for feed in feeds {
            var expected: [Delivery] = []
            for change in try await fixture.store.events(after: feed.resumeFrom, matching: nil, limit: Int(total)) {
                for (source, filter) in filters.enumerated() where filter.matches(change.path) {
                    expected.append(Delivery(source: source, sequence: change.sequence))
                }
            }
            try await waitUntil { feed.log.deliveries.count >= expected.count || feed.log.deliveries.last?.sequence == expected.last?.sequence }
            #expect(feed.log.deliveries == expected, "resumed from \(feed.resumeFrom)")
            for subscription in feed.subscriptions { subscription.cancel() }
        }
        #expect(hub.subscriberCount == 0)
    }

    @Test func liveEventsHeldDuringTheReplayThatItCoveredComeOnce() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let hub = Hub(store: fixture.store, configuration: .init(replayPageSize: 2))
        for index in 0..<10 { try await fixture.put(index % 2 == 0 ? "/d/a" : "/d/b", "{}") }
        let logged = try await fixture.store.events(after: 0, matching: nil, limit: 100)
        let later = [try HubBatchTests.change(11, "/d/a"), try HubBatchTests.change(12, "/d/b")]
        let log = FeedLog()
        let first = FeedRecorder(source: 0, log: log)
        // While the replay runs, the hub publishes what the log holds and two newer events:
        // the gate holds them all and must let through only the two.
        first.onFirstEvent = { hub.publish(logged + later) }
        let subscribers = [first, FeedRecorder(source: 1, log: log)]
        let subscriptions = try await hub.subscribe(
            SubscriptionGroup([.value(try Self.path("/d/a")), .value(try Self.path("/d/b"))], watcher: .server, from: .after(2)),
            subscribers: subscribers)
        #expect(subscriptions.count == 2)
        #expect(log.deliveries.map(\.sequence) == Array(3...12))
        #expect(log.deliveries.map(\.source) == (3...12).map { Int($0 + 1) % 2 })
        // And live from then on, without repeating what the hand-over delivered.
        hub.publish([later[1], try HubBatchTests.change(13, "/d/a")])
        #expect(log.deliveries.map(\.sequence) == Array(3...13))
    }

    @Test func anEventTheReplayDeliveredIsNotRepeatedWhenItsPublishComesLate() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let hub = Hub(store: fixture.store)
        for index in 0..<6 { try await fixture.put(index % 2 == 0 ? "/l/a" : "/l/b", "{}") }
        let logged = try await fixture.store.events(after: 0, matching: nil, limit: 100)
        let log = FeedLog()
        let subscribers = [FeedRecorder(source: 0, log: log), FeedRecorder(source: 1, log: log)]
        _ = try await hub.subscribe(
            SubscriptionGroup([.value(try Self.path("/l/a")), .value(try Self.path("/l/b"))], watcher: .server, from: .after(1)),
            subscribers: subscribers)
        #expect(log.deliveries.map(\.sequence) == Array(2...6))
        // The commit listener runs after the commit: the replay may have read these already.
        hub.publish(logged + [try HubBatchTests.change(7, "/l/a")])
        #expect(log.deliveries.map(\.sequence) == Array(2...7))
    }

    @Test func tooManyLiveEventsDuringTheReplayEndTheWholeFeedWithReplayOverrun() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let observer = DropCounter()
        let hub = Hub(store: fixture.store, configuration: .init(replayBufferLimit: 2, observer: observer.observer))
        for index in 0..<4 { try await fixture.put(index % 2 == 0 ? "/o/a" : "/o/b", "{}") }
        let log = FeedLog()
        let first = FeedRecorder(source: 0, log: log)
        first.onFirstEvent = {
            hub.publish((5...7).map { try! HubBatchTests.change($0, $0 % 2 == 0 ? "/o/b" : "/o/a") })
        }
        let subscribers = [first, FeedRecorder(source: 1, log: log)]
        let subscriptions = try await hub.subscribe(
            SubscriptionGroup([.value(try Self.path("/o/a")), .value(try Self.path("/o/b"))], watcher: .server, from: .after(0)),
            subscribers: subscribers)
        #expect(subscriptions.isEmpty)
        #expect(subscribers.map(\.drops) == [[.replayOverrun], [.replayOverrun]])
        #expect(observer.reasons == [.replayOverrun, .replayOverrun])
        #expect(hub.subscriberCount == 0)
        #expect(log.deliveries.map(\.sequence) == [1])
    }

    @Test func theWatchersAdmissionHidesAChildInTheReplayAndLive() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let hub = Hub(store: fixture.store, configuration: .init(replayPageSize: 1))
        fixture.store.setCommitListener { hub.publish($0) }
        let secret = try Self.path("/h/secret")
        for path in ["/h/open", "/h/secret", "/v", "/h/secret"] { try await fixture.put(path, "{}") }
        let log = FeedLog()
        let subscribers = [FeedRecorder(source: 0, log: log), FeedRecorder(source: 1, log: log)]
        let watcher = Watcher(principal: "bob", admits: { path in path != secret })
        let subscriptions = try await hub.subscribe(
            SubscriptionGroup([.children(try Self.path("/h/")), .value(try Self.path("/v"))], watcher: watcher, from: .after(0)),
            subscribers: subscribers)
        #expect(subscriptions.count == 2)
        for path in ["/h/secret", "/h/open", "/v"] { try await fixture.put(path, "{}") }
        try await waitUntil { log.deliveries.last?.sequence == 7 }
        #expect(log.deliveries == [.init(source: 0, sequence: 1), .init(source: 1, sequence: 3), .init(source: 0, sequence: 6), .init(source: 1, sequence: 7)])
    }

    @Test func aPositionTheLogCannotReplayFromIsAStartOverAndRegistersNothing() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let hub = Hub(store: fixture.store)
        for index in 0..<5 { try await fixture.put("/t/\(index % 2)", "{}") }
        let filters: [SubscriptionFilter] = [.value(try Self.path("/t/0")), .value(try Self.path("/t/1"))]
        let log = FeedLog()
        let subscribers = [FeedRecorder(source: 0, log: log), FeedRecorder(source: 1, log: log)]
        await #expect(throws: StartOver(.aheadOfLog(head: 5))) {
            try await hub.subscribe(SubscriptionGroup(filters, watcher: .server, from: .after(9)), subscribers: subscribers)
        }
        #expect(hub.subscriberCount == 0)
        _ = try await fixture.store.applyRetention(.init(maximumEvents: 2, maximumAgeSeconds: 60), now: 0)
        await #expect(throws: StartOver(.historyGone(floor: 3))) {
            try await hub.subscribe(SubscriptionGroup(filters, watcher: .server, from: .after(1)), subscribers: subscribers)
        }
        #expect(hub.subscriberCount == 0)
        #expect(subscribers.allSatisfy { $0.drops.isEmpty })
        // A token of another log never reaches the hub: it is a start-over when parsed.
        #expect(ResumePosition.parse("other-log:3", epoch: "this-log") == .failure(StartOver(.notFromThisLog(token: "other-log:3"))))
    }

    @Test func aGroupWhoseEndHasPassedEndsEveryMemberOnce() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let hub = Hub(store: fixture.store)
        for index in 0..<4 { try await fixture.put("/e/\(index % 2)", "{}") }
        let log = FeedLog()
        let subscribers = [FeedRecorder(source: 0, log: log), FeedRecorder(source: 1, log: log)]
        let subscriptions = try await hub.subscribe(
            SubscriptionGroup(
                [.value(try Self.path("/e/0")), .value(try Self.path("/e/1"))], watcher: .server, from: .after(0),
                pace: DeliveryPace(endAt: Date(timeIntervalSinceNow: -1))),
            subscribers: subscribers)
        #expect(subscriptions.isEmpty)
        #expect(subscribers.map(\.drops) == [[.ended], [.ended]])
        #expect(hub.subscriberCount == 0)
    }
}

private struct Delivery: Equatable, CustomStringConvertible {
    let source: Int
    let sequence: UInt64
    var description: String { "\(source)@\(sequence)" }
}

/// The one output a group's subscribers share, as a stream's outlet is.
private final class FeedLog: Sendable {
    private let entries = Mutex<[Delivery]>([])
    var deliveries: [Delivery] { entries.withLock { $0 } }
    func append(_ delivery: Delivery) { entries.withLock { $0.append(delivery) } }
}

private final class FeedRecorder: HubSubscriber {
    var kind: HubSubscriberKind { HubSubscriberKind(protocolName: "test", transport: "feed") }
    let source: Int
    let log: FeedLog
    private let dropped = Mutex<[HubDropReason]>([])
    private let firstEvent = Mutex<(@Sendable () -> Void)?>(nil)
    var drops: [HubDropReason] { dropped.withLock { $0 } }
    /// Runs once, inside the first `receive`: what happens meanwhile in the hub.
    var onFirstEvent: (@Sendable () -> Void)? {
        get { firstEvent.withLock { $0 } }
        set { firstEvent.withLock { $0 = newValue } }
    }

    init(source: Int, log: FeedLog) {
        self.source = source
        self.log = log
    }

    func receive(_ event: HubEvent) -> Bool {
        log.append(Delivery(source: source, sequence: event.sequence))
        firstEvent.withLock { hook in
            defer { hook = nil }
            return hook
        }?()
        return true
    }

    func hubDidDrop(reason: HubDropReason) { dropped.withLock { $0.append(reason) } }
}

private final class DropCounter: Sendable {
    private let dropped = Mutex<[HubDropReason]>([])
    var reasons: [HubDropReason] { dropped.withLock { $0 } }
    var observer: HubObserver {
        HubObserver(published: { _, _ in }, dropped: { [self] reason in dropped.withLock { $0.append(reason) } })
    }
}

/// Waits for `condition`, polling; fails the test after `seconds`.
func waitUntil(seconds: Double = 10, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("condition not met within \(seconds) s")
            return
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}
