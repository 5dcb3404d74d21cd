import EddyCore
import Testing

@Suite struct EncodingKeysTests {
    private static func storage(_ string: String) -> UnsafeRawPointer? {
        var string = string
        return string.withUTF8 { UnsafeRawPointer($0.baseAddress) }
    }

    @Test func equalLongKeysBuiltApartComeBackAsOneCopy() {
        let keys = EncodingKeys(limit: 2)
        let uri = "/notes/2026/a-long-enough-name"
        let first = keys.shared("lr-ws-frame:" + uri)
        let second = keys.shared("lr-ws-frame:" + uri)
        #expect(first == second)
        #expect(Self.storage(first) == Self.storage(second))
        // A key built apart has storage of its own until it is shared.
        #expect(Self.storage("lr-ws-frame:" + uri) != Self.storage(first))
        #expect(keys.count == 1)
    }

    @Test func shortKeysAreNotHeldAndTheLimitBoundsWhatIs() {
        let keys = EncodingKeys(limit: 2)
        #expect(keys.shared("lr-value-sse") == "lr-value-sse")
        #expect(keys.count == 0)
        let held = (1...3).map { keys.shared("solid:v:https://example.org/\($0)|base") }
        #expect(keys.count == 2)
        // Past the limit a key still comes back equal, as its own copy.
        let again = keys.shared("solid:v:https://example.org/3|base")
        #expect(again == held[2])
        #expect(Self.storage(again) != Self.storage(held[2]))
        #expect(Self.storage(keys.shared("solid:v:https://example.org/1|base")) == Self.storage(held[0]))
    }

    @Test func theHubsLimitComesFromItsConfiguration() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let hub = Hub(store: fixture.store, configuration: .init(sharedEncodingKeys: 1))
        #expect(hub.encodingKeys.limit == 1)
        _ = hub.encodingKeys.shared("lr-ws-frame:/first/long-enough")
        _ = hub.encodingKeys.shared("lr-ws-frame:/second/long-enough")
        #expect(hub.encodingKeys.count == 1)
        #expect(Hub(store: fixture.store).encodingKeys.limit == 10_000)
    }
}
