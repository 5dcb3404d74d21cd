import EddyCore
@testable import EddyServer
import EddyTestSupport
import Foundation
import Testing

/// Numbers a client sends for a notification channel are bounded when they arrive, and one
/// that reached the store anyway (an older version, a hand edit) is set aside at start.
@Suite struct PoisonedRegistrationTests {
    /// The rate that ended the process with "Overflow in multiplication".
    static let overflowingRate = "PT1000000000000000000000000000000S"

    @Test(arguments: [overflowingRate, "PT86401S", "P2D", "P1Y", "PT1e3S"])
    func aRateBeyondTheMaximumIsRefusedWith422(rate: String) async throws {
        try await TestServer.with(configure: SolidTests.configure) { server in
            _ = try await server.send(.PUT, "/notes/topic", json: "{}")
            for type in ["EventSourceChannel2023", "WebhookChannel2023"] {
                let service = try await SolidTests.discoverService(server.baseURL + "/notes/topic", type: type)
                let sendTo = type == "WebhookChannel2023" ? #","sendTo":"http://127.0.0.1:9/hook""# : ""
                let response = try await SolidTests.subscribe(
                    service, type: type, topic: server.baseURL + "/notes/topic", extra: #","rate":"\#(rate)""# + sendTo)
                #expect(response.status == 422, "\(type) with rate \(rate) answered \(response.status)")
                #expect(response.header("Content-Type") == "application/problem+json")
            }
            #expect(try await server.server.store.registrations(kind: SolidChannel.kind).isEmpty)
        }
    }

    @Test func aRateWithinTheMaximumIsKeptAndEchoed() async throws {
        try await TestServer.with(configure: SolidTests.configure) { server in
            _ = try await server.send(.PUT, "/notes/topic", json: "{}")
            let service = try await SolidTests.discoverService(server.baseURL + "/notes/topic", type: "EventSourceChannel2023")
            let response = try await SolidTests.subscribe(
                service, type: "EventSourceChannel2023", topic: server.baseURL + "/notes/topic", extra: #","rate":"PT1.5S""#)
            #expect(response.status == 200 || response.status == 201)
            #expect(response.json?["rate"] == .string("PT1.5S"))
        }
    }

    /// A webhook channel stored with the overflowing rate, behind events it has not delivered:
    /// the server starts, serves, and keeps the registration aside instead of delivering it.
    @Test func aStoredChannelThatCannotBeServedIsSetAsideAtStart() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        let first = try await TestServer.start(configure: SolidTests.configure)
        _ = try await first.send(.PUT, "/notes/topic", json: #"{"v":1}"#)
        let topic = first.baseURL + "/notes/topic"
        let poisoned = StoredRegistration(
            id: first.baseURL + "/.eddy/solid/channel/poisoned", kind: SolidChannel.kind, subject: nil,
            payload: #"{"type":"WebhookChannel2023","topic":"\#(topic)","path":"/notes/topic","token":"poisoned","base":"\#(first.baseURL)","#
                + #""rate":1e30,"sendTo":"\#(receiver.url)"}"#,
            cursor: 0)
        let unreadable = StoredRegistration(
            id: "value /notes/topic broken", kind: Webhooks.kind, subject: nil, payload: #"{"mode":"sideways"}"#, cursor: 0)
        try await first.server.store.saveRegistration(poisoned)
        try await first.server.store.saveRegistration(unreadable)
        _ = try await first.send(.PUT, "/notes/topic", json: #"{"v":2}"#)

        let second = try await first.restarted(configure: SolidTests.configure)
        defer { Task { await second.stop() } }
        let store = second.server.store
        try await waitUntil("both registrations are set aside") {
            let aside = try await store.registrations(kind: Quarantine.kind(for: SolidChannel.kind)).map(\.id)
                + store.registrations(kind: Quarantine.kind(for: Webhooks.kind)).map(\.id)
            return Set(aside) == [poisoned.id, unreadable.id]
        }
        #expect(try await store.registrations(kind: SolidChannel.kind).isEmpty)
        #expect(try await second.send(.PUT, "/notes/topic", json: #"{"v":3}"#).status == 200)
        #expect(try await second.send(.GET, "/notes/topic").body.contains("3"))
        #expect(receiver.attempts == 0)
    }
}
