import EddyCore
import Synchronization
import Testing

@Suite struct HubTests {
    @Test func resumingSubscriberGetsEveryEventAfterNExactlyOnceWhileWritesStream() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let hub = Hub(store: fixture.store, configuration: .init(replayBufferLimit: 10_000, replayPageSize: 7))
        fixture.store.setCommitListener { hub.publish($0) }
        let total: UInt64 = 400

        let writer = Task {
            for index in 0..<total { try await fixture.put("/s/\(index % 13)", #"{"i":\#(index)}"#) }
        }
        // Wait until the log is well under way, then resume from a point in its past.
        while try await fixture.store.headSequence() < 120 { await Task.yield() }
        let resumeFrom: UInt64 = 50
        let stream = try await hub.events(Subscription(.subtree(try ResourcePath(parsing: "/s/")), watcher: .server, from: .after(resumeFrom)), bufferSize: 1000)
        var seen: [UInt64] = []
        for try await event in stream {
            seen.append(event.sequence)
            if event.sequence == total { break }
        }
        try await writer.value
        #expect(seen == Array(resumeFrom + 1...total))
    }

    @Test func liveSubscriberSeesOnlyItsOwnFilter() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let hub = Hub(store: fixture.store)
        fixture.store.setCommitListener { hub.publish($0) }
        var recorders: [String: Recorder] = [:]
        for index in 0..<500 {
            let recorder = Recorder()
            recorders["/many/\(index)"] = recorder
            try await hub.subscribe(Subscription(.value(try ResourcePath(parsing: "/many/\(index)")), watcher: .server), subscriber: recorder)
        }
        let children = Recorder()
        try await hub.subscribe(Subscription(.children(try ResourcePath(parsing: "/many/")), watcher: .server), subscriber: children)
        let elsewhere = Recorder()
        try await hub.subscribe(Subscription(.subtree(try ResourcePath(parsing: "/other/")), watcher: .server), subscriber: elsewhere)
        #expect(hub.subscriberCount == 502)

        try await fixture.put("/many/7", "{}")
        try await fixture.put("/many/7/deeper", "{}")
        #expect(recorders["/many/7"]!.sequences == [1])
        #expect(recorders.filter { $0.key != "/many/7" }.allSatisfy { $0.value.sequences.isEmpty })
        #expect(children.sequences == [1])
        #expect(elsewhere.sequences.isEmpty)
    }

    @Test func slowSubscriberIsDroppedWithoutDelayingAFastOne() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let hub = Hub(store: fixture.store)
        fixture.store.setCommitListener { hub.publish($0) }
        let path = try ResourcePath(parsing: "/hot")
        // Nobody ever reads this stream: its four-event buffer fills and the hub must drop it.
        let slow = try await hub.events(Subscription(.value(path), watcher: .server), bufferSize: 4)
        let fast = try await hub.events(Subscription(.value(path), watcher: .server), bufferSize: 1000)
        let count = 200
        let reader = Task {
            var received = 0
            for try await _ in fast {
                received += 1
                if received == count { break }
            }
            return received
        }
        for index in 0..<count { try await fixture.put("/hot", #"{"i":\#(index)}"#) }
        #expect(try await reader.value == count)

        var slowReceived = 0
        await #expect(throws: HubDropReason.tooSlow) {
            for try await _ in slow { slowReceived += 1 }
        }
        #expect(slowReceived == 4)
        #expect(hub.subscriberCount == 1)
        fast.cancel()
        #expect(hub.subscriberCount == 0)
    }

    @Test func resumingFromADroppedPositionFailsClearly() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let hub = Hub(store: fixture.store)
        for index in 0..<5 { try await fixture.put("/t/\(index)", "{}") }
        _ = try await fixture.store.applyRetention(.init(maximumEvents: 2, maximumAgeSeconds: 60), now: 0)
        await #expect(throws: StartOver(.historyGone(floor: 3))) {
            try await hub.subscribe(Subscription(.subtree(.root), watcher: .server, from: .after(1)), subscriber: Recorder())
        }
        #expect(hub.subscriberCount == 0)
    }

    @Test func eventsAreEncodedOncePerFormat() async throws {
        let event = HubEvent(
            ChangeEvent(sequence: 1, path: try ResourcePath(parsing: "/e"), kind: .created, etag: ETag(opaque: "x"), timestamp: 0, value: "{}"))
        let builds = Mutex(0)
        for _ in 0..<100 {
            _ = event.encoded(as: "sse") { builds.withLock { $0 += 1 }; return "frame" }
        }
        _ = event.encoded(as: "ws") { builds.withLock { $0 += 1 }; return "other" }
        #expect(builds.withLock { $0 } == 2)
        // Optional encodings are built too, not mistaken for a cached nil.
        #expect(event.encoded(as: "optional") { () -> String? in "built" } == "built")
        #expect(event.encoded(as: "nothing") { () -> String? in nil } == nil)
    }

    @Test func encodingsAreKeyedByTheKeysBytesAndType() throws {
        let event = HubEvent(
            ChangeEvent(sequence: 1, path: try ResourcePath(parsing: "/e"), kind: .created, etag: ETag(opaque: "x"), timestamp: 0, value: "{}"))
        // Canonically equivalent keys (they name URIs) are different keys.
        #expect(event.encoded(as: "frame:/Kevin") { "for Kevin" } == "for Kevin")
        #expect(event.encoded(as: "frame:/\u{212A}evin") { "for the Kelvin sign" } == "for the Kelvin sign")
        #expect(event.encoded(as: "frame:/Kevin") { "built again" } == "for Kevin")
        // Keys of one length that differ in their last byte only.
        #expect(event.encoded(as: "frame:/Kevim") { "for Kevim" } == "for Kevim")
        // The same name read as another type is built, and does not replace the first.
        #expect(event.encoded(as: EncodingKey<Int>("frame:/Kevin")) { 7 } == 7)
        #expect(event.encoded(as: "frame:/Kevin") { "built again" } == "for Kevin")
        let batch = HubEventBatch([event])
        #expect(batch.encoded(as: "frame:/Kevin") { "batch" } == "batch")
        #expect(batch.encoded(as: "frame:/\u{212A}evin") { "batch of the Kelvin sign" } == "batch of the Kelvin sign")
        #expect(batch.encoded(as: "frame:/Kevin") { "built again" } == "batch")
    }
}

@Suite struct HubBatchTests {
    static func change(_ sequence: UInt64, _ path: String) throws -> ChangeEvent {
        ChangeEvent(
            sequence: sequence, path: try ResourcePath(parsing: path), kind: .updated, etag: ETag(epoch: "e", version: sequence),
            timestamp: 0, value: "{}")
    }

    @Test func batchTakersGetAPublishAtOnceAndTheOthersOneByOneInOrder() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let hub = Hub(store: fixture.store)
        let whole = BatchRecorder()
        let single = Recorder()
        let children = BatchRecorder()
        let other = BatchRecorder()
        try await hub.subscribe(Subscription(.value(try ResourcePath(parsing: "/b/x")), watcher: .server), subscriber: whole)
        try await hub.subscribe(Subscription(.value(try ResourcePath(parsing: "/b/x")), watcher: .server), subscriber: single)
        try await hub.subscribe(Subscription(.children(try ResourcePath(parsing: "/b/")), watcher: .server), subscriber: children)
        try await hub.subscribe(Subscription(.value(try ResourcePath(parsing: "/b/y")), watcher: .server), subscriber: other)
        hub.publish([try Self.change(1, "/b/x"), try Self.change(2, "/b/y"), try Self.change(3, "/b/x"), try Self.change(4, "/c/z")])
        #expect(whole.batches == [[1, 3]])
        #expect(single.sequences == [1, 3])
        #expect(children.batches == [[1, 2, 3]])
        #expect(other.batches == [[2]])
        // A later publish repeating what was delivered gives only what is new.
        hub.publish([try Self.change(3, "/b/x"), try Self.change(5, "/b/x")])
        #expect(whole.batches == [[1, 3], [5]])
        #expect(single.sequences == [1, 3, 5])
    }

    @Test func aBatchTakerWithAnAdmissionCheckGetsOnlyWhatItMaySee() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let hub = Hub(store: fixture.store)
        let guarded = BatchRecorder()
        let open = BatchRecorder()
        let alsoOpen = BatchRecorder()
        let secret = try ResourcePath(parsing: "/s/secret")
        try await hub.subscribe(Subscription(.children(try ResourcePath(parsing: "/s/")), watcher: Watcher(principal: nil, admits: { $0 != secret })), subscriber: guarded)
        try await hub.subscribe(Subscription(.children(try ResourcePath(parsing: "/s/")), watcher: .server), subscriber: open)
        try await hub.subscribe(Subscription(.children(try ResourcePath(parsing: "/s/")), watcher: .server), subscriber: alsoOpen)
        hub.publish([try Self.change(1, "/s/a"), try Self.change(2, "/s/secret"), try Self.change(3, "/s/b")])
        #expect(guarded.batches == [[1, 3]])
        #expect(open.batches == [[1, 2, 3]])
        // Subscribers that take all of it share one batch (and so its encodings); the guarded
        // one gets a copy of its own.
        #expect(open.objects.first === alsoOpen.objects.first)
        #expect(guarded.objects.first !== open.objects.first)
    }
}

/// Records the batches it is given (kept, so that tests can tell shared ones apart).
final class BatchRecorder: HubSubscriber {
    private let received = Mutex<[HubEventBatch]>([])
    var batches: [[UInt64]] { received.withLock { $0.map { $0.events.map(\.sequence) } } }
    var objects: [HubEventBatch] { received.withLock { $0 } }
    var takesBatches: Bool { true }

    func receive(batch: HubEventBatch) -> Bool {
        received.withLock { $0.append(batch) }
        return true
    }

    func receive(_ event: HubEvent) -> Bool {
        received.withLock { $0.append(HubEventBatch([event])) }
        return true
    }

    func hubDidDrop(reason: HubDropReason) {}
}

final class Recorder: HubSubscriber {
    private let received = Mutex<[UInt64]>([])
    var sequences: [UInt64] { received.withLock { $0 } }

    func receive(_ event: HubEvent) -> Bool {
        received.withLock { $0.append(event.sequence) }
        return true
    }

    func hubDidDrop(reason: HubDropReason) {}
}
