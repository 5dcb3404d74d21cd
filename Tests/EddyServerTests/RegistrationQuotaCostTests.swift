import EddyCore
import EddyTestSupport
@testable import EddyServer
import Foundation
import Testing

/// Anyone may ask to create a registration, and the quota is checked on every create: the
/// check counts the caller's registrations in the store instead of reading every registration
/// of the kind.
@Suite struct RegistrationQuotaCostTests {
    /// Many other callers' registrations of `kind`, stored directly (as other nodes would).
    static func storeOthers(of kind: String, in store: any ResourceStore) async throws {
        for index in 0..<300 {
            try await store.saveRegistration(
                StoredRegistration(
                    id: "other-\(index)", kind: kind, subject: nil,
                    payload: RegistrationQuota.stamp("{}", subject: nil, address: "10.0.\(index / 100).\(index % 100)"), cursor: 0))
        }
    }

    static func start(leaseOf kind: String) async throws -> (TestServer, CountingStore) {
        // Another node holds the kind's lease, so its periodic reads stay out of the count.
        let server = try await TestServer.start(
            configure: {
                $0.maximumRegistrationsPerSubject = 3
                $0.allowOutbound = [CIDR("127.0.0.0/8")!]
            }, wrapStore: { CountingStore($0, leaseHeldElsewhere: "deliveries:" + kind) })
        let store = try #require(server.server.store as? CountingStore)
        try await waitUntil("the registrations were checked at start") { store.listings(of: kind) >= 1 }
        try await storeOthers(of: kind, in: store)
        return (server, store)
    }

    @Test func aWebhookCreateCountsOnlyTheCallersOwn() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        let (server, store) = try await Self.start(leaseOf: Webhooks.kind)
        defer { Task { await server.stop() } }
        #expect(try await server.send(.PUT, "/hooked", json: "{}").status == 201)
        let listings = store.listings(of: Webhooks.kind)
        let counts = store.ownerCounts(of: Webhooks.kind)
        let target = "/.eddy/value-callbacks/hooked/"
        let type = "application/x-www-form-urlencoded"
        for index in 1...3 {
            let form = CrossSiteTests.form(receiver.url + "/a\(index)")
            let created = try await RegistrationQuotaTests.post(server, from: "127.0.0.1", target, body: form, type: type)
            #expect(created.status == 201, "\(created.body)")
        }
        let form = CrossSiteTests.form(receiver.url + "/a4")
        let full = try await RegistrationQuotaTests.post(server, from: "127.0.0.1", target, body: form, type: type)
        #expect(full.status == 429)
        #expect(store.listings(of: Webhooks.kind) == listings, "a create read every webhook")
        #expect(store.ownerCounts(of: Webhooks.kind) == counts + 4)
    }

    @Test func aChannelCreateCountsOnlyTheCallersOwn() async throws {
        let (server, store) = try await Self.start(leaseOf: SolidChannel.kind)
        defer { Task { await server.stop() } }
        #expect(try await server.send(.PUT, "/watched", json: "{}").status == 201)
        let listings = store.listings(of: SolidChannel.kind)
        let counts = store.ownerCounts(of: SolidChannel.kind)
        let target = "/.eddy/solid/subscription/EventSourceChannel2023"
        let body =
            #"{"@context":["https://www.w3.org/ns/solid/notification/v1"],"type":"EventSourceChannel2023","#
            + #""topic":"\#(server.baseURL)/watched"}"#
        for _ in 1...3 {
            let created = try await RegistrationQuotaTests.post(server, from: "127.0.0.1", target, body: body, type: "application/ld+json")
            #expect(created.status == 200, "\(created.body)")
        }
        #expect(try await RegistrationQuotaTests.post(server, from: "127.0.0.1", target, body: body, type: "application/ld+json").status == 429)
        #expect(store.listings(of: SolidChannel.kind) == listings, "a create read every channel")
        #expect(store.ownerCounts(of: SolidChannel.kind) == counts + 4)
    }
}
