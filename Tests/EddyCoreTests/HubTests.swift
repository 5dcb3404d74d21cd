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
        let stream = try await hub.events(.subtree(try ResourcePath(parsing: "/s/")), after: resumeFrom, bufferSize: 1000)
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
            try await hub.subscribe(.value(try ResourcePath(parsing: "/many/\(index)")), subscriber: recorder)
        }
        let children = Recorder()
        try await hub.subscribe(.children(try ResourcePath(parsing: "/many/")), subscriber: children)
        let elsewhere = Recorder()
        try await hub.subscribe(.subtree(try ResourcePath(parsing: "/other/")), subscriber: elsewhere)
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
        let slow = try await hub.events(.value(path), bufferSize: 4)
        let fast = try await hub.events(.value(path), bufferSize: 1000)
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
        await #expect(throws: StoreError.historyTruncated(requested: 1, floor: 3)) {
            try await hub.subscribe(.subtree(.root), after: 1, subscriber: Recorder())
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
