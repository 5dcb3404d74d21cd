import EddyCore
import Foundation
import Synchronization
import Testing

/// The core's subscription rules without sockets: who watches, the rate rule and the end.
@Suite struct SubscriptionTests {
    let secret = try! ResourcePath(parsing: "/s/secret")

    @Test func aWatcherAdmitsPerEventBelowAnAnchorButNotForAValue() throws {
        let watcher = Watcher(principal: "bob", admits: { [secret] path in path != secret })
        let children = Subscription(.children(try ResourcePath(parsing: "/s/")), watcher: watcher)
        #expect(children.eventAdmission?(secret) == false)
        #expect(children.eventAdmission?(try ResourcePath(parsing: "/s/open")) == true)
        #expect(Subscription(.value(secret), watcher: watcher).eventAdmission == nil)
        #expect(Watcher.server.admits == nil && !Watcher.server.answersToPolicy)
    }

    @Test func theHubAppliesTheWatchersAdmission() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let hub = Hub(store: fixture.store)
        let recorder = Recorder()
        let watcher = Watcher(principal: "bob", admits: { [secret] path in path != secret })
        try await hub.subscribe(Subscription(.children(try ResourcePath(parsing: "/s/")), watcher: watcher), subscriber: recorder)
        hub.publish([try HubBatchTests.change(1, "/s/a"), try HubBatchTests.change(2, "/s/secret"), try HubBatchTests.change(3, "/s/b")])
        #expect(recorder.sequences == [1, 3])
    }

    @Test func aPolicyReloadRevokesClientsButNotTheServersOwnWork() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let hub = Hub(store: fixture.store)
        let filter = SubscriptionFilter.children(try ResourcePath(parsing: "/s/"))
        try await hub.subscribe(Subscription(filter, watcher: Watcher(principal: "bob", admits: { _ in true })), subscriber: Recorder())
        try await hub.subscribe(Subscription(filter, watcher: .server), subscriber: Recorder())
        hub.revoke(where: { _, _ in false }, reason: "test")
        #expect(hub.subscriberCount == 1)
    }

    @Test func theHubEndsASubscriptionAtItsEnd() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let hub = Hub(store: fixture.store)
        let ended = Ended()
        let pace = DeliveryPace(endAt: Date().addingTimeInterval(0.2))
        try await hub.subscribe(Subscription(.subtree(.root), watcher: .server, pace: pace), subscriber: ended)
        try await hub.subscribe(Subscription(.subtree(.root), watcher: .server, pace: DeliveryPace(endAt: Date())), subscriber: Ended())
        #expect(hub.subscriberCount == 1, "an end already past ends it at once")
        let deadline = ContinuousClock.now + .seconds(10)
        while hub.subscriberCount > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(hub.subscriberCount == 0)
        #expect(ended.reasons == [.ended])
    }

    @Test func aCancelledSubscriptionIsNotEndedLater() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let hub = Hub(store: fixture.store)
        let ended = Ended()
        let subscription = try await hub.subscribe(
            Subscription(.subtree(.root), watcher: .server, pace: DeliveryPace(endAt: Date().addingTimeInterval(3600))), subscriber: ended)
        subscription.cancel()
        #expect(hub.subscriberCount == 0)
        #expect(ended.reasons.isEmpty)
    }

    @Test func paceOpensAtStartAndClosesAtEnd() {
        let now = Date()
        let pace = DeliveryPace(startAt: now.addingTimeInterval(10), endAt: now.addingTimeInterval(20))
        #expect(!pace.isOpen(at: now))
        #expect(pace.isOpen(at: now.addingTimeInterval(15)))
        #expect(!pace.isOpen(at: now.addingTimeInterval(20)) && pace.hasEnded(at: now.addingTimeInterval(20)))
        #expect(DeliveryPace.unpaced.isOpen(at: now))
    }

    @Test func theRateRuleDeliversTheFirstAtOnceAndTheLatestAtThePeriodsEnd() {
        var gate = RateGate<Int>(interval: .seconds(1))
        let t0 = ContinuousClock.now
        guard case .deliver(1) = gate.offer(1, now: t0) else { Issue.record("the first goes at once"); return }
        guard case .flush(let due) = gate.offer(2, now: t0 + .milliseconds(100)) else { Issue.record("held"); return }
        #expect(due == t0 + .seconds(1))
        guard case .held = gate.offer(3, now: t0 + .milliseconds(200)) else { Issue.record("replaces"); return }
        #expect(gate.due(now: due) == 3, "the latest, never a stale one")
        // The period restarts at the flush: the next one inside it waits again.
        guard case .flush(let next) = gate.offer(4, now: due + .milliseconds(10)) else { Issue.record("held again"); return }
        #expect(next == due + .seconds(1))
        #expect(gate.due(now: next) == 4)
        // After a quiet period, the next goes at once.
        guard case .deliver(5) = gate.offer(5, now: next + .seconds(5)) else { Issue.record("after a quiet period"); return }
        #expect(gate.due(now: next + .seconds(6)) == nil)
    }

    @Test func noRateDeliversEverything() {
        var gate = RateGate<Int>(interval: nil)
        let t0 = ContinuousClock.now
        for value in 0..<5 {
            guard case .deliver(value) = gate.offer(value, now: t0) else { Issue.record("no limit"); return }
        }
    }
}

final class Ended: HubSubscriber {
    private let dropped = Mutex<[HubDropReason]>([])
    var reasons: [HubDropReason] { dropped.withLock { $0 } }
    func receive(_ event: HubEvent) -> Bool { true }
    func hubDidDrop(reason: HubDropReason) { dropped.withLock { $0.append(reason) } }
}
