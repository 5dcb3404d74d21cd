import EddyCore
import Foundation
import Testing

/// A registration's token is found by one lookup on exactly its bytes, on both stores, and
/// kept across a reopen.
@Suite struct RegistrationTokenTests {
    static func channel(_ id: String, token: String?) -> StoredRegistration {
        StoredRegistration(id: id, kind: "solid-channel", subject: nil, payload: "{}", cursor: 0, token: token)
    }

    @Test func aTokenFindsItsRegistrationByItsExactBytes() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let store = fixture.store
        let precomposed = "caf\u{E9}"
        try await store.saveRegistration(Self.channel("a", token: precomposed))
        try await store.saveRegistration(Self.channel("b", token: nil))
        try await store.saveRegistration(Self.channel("c", token: nil))

        #expect(try await store.registration(token: precomposed)?.id == "a")
        #expect(try await store.registration(token: precomposed)?.token == precomposed)
        // Canonically equivalent, other bytes: another token.
        #expect(try await store.registration(token: "cafe\u{301}") == nil)
        #expect(try await store.registration(token: "CAF\u{C9}") == nil)
        #expect(try await store.registration(token: "caf") == nil)
        #expect(try await store.registration(token: "") == nil)

        // Replacing a registration can give it its token later (one stored before tokens were kept).
        try await store.saveRegistration(Self.channel("b", token: "later"))
        #expect(try await store.registration(token: "later")?.id == "b")
        #expect(try await store.deleteRegistration(id: "a"))
        #expect(try await store.registration(token: precomposed) == nil)
    }

    @Test func aTokenIsFoundAfterTheStoreIsReopened() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        try await fixture.store.saveRegistration(Self.channel("kept", token: "t0k3n"))
        try await fixture.store.close()
        let reopened = try await fixture.reopen()
        defer { Task { try? await reopened.close() } }
        #expect(try await reopened.registration(token: "t0k3n")?.id == "kept")
    }

    /// Two registrations cannot share a token: a lookup never has to choose.
    @Test func aTokenBelongsToOneRegistration() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        try await fixture.store.saveRegistration(Self.channel("first", token: "same"))
        await #expect(throws: (any Error).self) { try await fixture.store.saveRegistration(Self.channel("second", token: "same")) }
        #expect(try await fixture.store.registration(token: "same")?.id == "first")
    }
}
