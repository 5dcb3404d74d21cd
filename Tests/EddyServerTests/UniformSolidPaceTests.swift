import EddyCore
@testable import EddyServer
import Foundation
import Testing

/// `endAt` and `rate` are one rule in the core (`DeliveryPace`, `RateGate`, the hub's end of a
/// subscription), so every Solid channel type behaves the same: deliveries stop at `endAt`,
/// and a burst within one `rate` period ends with its latest notification, never lost.
@Suite struct UniformSolidPaceTests {
    static let types = ["EventSourceChannel2023", "StreamingHTTPChannel2023", "WebSocketChannel2023", "WebSocketSubscription2021", "WebhookChannel2023"]

    static func channel(_ server: TestServer, type: String, topic: String, receiver: WebhookReceiver, extra: String) async throws -> JSONValue {
        let service = try await SolidTests.discoverService(server.baseURL + (topic.hasSuffix("/") ? topic + "first" : topic), type: type)
        let sendTo = type == "WebhookChannel2023" ? #","sendTo":"\#(receiver.url)""# : ""
        let response = try await SolidTests.subscribe(service, type: type, topic: server.baseURL + topic, extra: sendTo + extra)
        return try #require(response.json, "\(response.status) \(response.body)")
    }

    @Test(arguments: types)
    func deliveriesEndAtEndAt(type: String) async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await TestServer.with(configure: SolidTests.configure) { server in
            _ = try await server.send(.PUT, "/ending", json: #"{"v":0}"#)
            let endAt = Date().addingTimeInterval(2)
            let channel = try await Self.channel(server, type: type, topic: "/ending", receiver: receiver, extra: #","endAt":"\#(Instant.format(endAt))""#)
            let reader = try await SolidTests.connected(channel, receiver: receiver, server: server)
            defer { reader.stop() }
            _ = try await server.send(.PUT, "/ending", json: #"{"v":1}"#)
            #expect(try await reader.next()["type"] == .string("Update"), "\(type): delivered before endAt")
            if type == "WebhookChannel2023" {
                // A webhook has no connection to end: what is written after endAt is not sent.
                while Date() < endAt { try await Task.sleep(for: .milliseconds(50)) }
            } else {
                // The stream or socket ends by itself at endAt.
                await #expect(throws: (any Error).self, "\(type): the channel ends") {
                    while true { _ = try await reader.next(within: 6) }
                }
            }
            _ = try await server.send(.PUT, "/ending", json: #"{"v":2}"#)
            #expect(await reader.isQuiet(for: 1), "\(type): nothing after endAt")
        }
    }

    @Test(arguments: types)
    func aBurstEndsWithItsLatestNotificationAtThePeriodsEnd(type: String) async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await TestServer.with(configure: SolidTests.configure) { server in
            _ = try await server.send(.PUT, "/rated/first", json: "{}")
            let channel = try await Self.channel(server, type: type, topic: "/rated/", receiver: receiver, extra: #","rate":"PT1S""#)
            let reader = try await SolidTests.connected(channel, receiver: receiver, server: server)
            defer { reader.stop() }
            // Add a, then Add b and an update of b (which says nothing about the container): the
            // latest notification of the burst is "Add b", and it must arrive.
            let start = ContinuousClock.now
            _ = try await server.send(.PUT, "/rated/a", json: "{}")
            _ = try await server.send(.PUT, "/rated/b", json: "{}")
            _ = try await server.send(.PUT, "/rated/b", json: #"{"v":2}"#)
            // The setup's own write may still be on its way to the hub when the channel listens.
            var first = try await reader.next()
            if first["object"] == .string(server.baseURL + "/rated/first") { first = try await reader.next() }
            #expect(first["object"] == .string(server.baseURL + "/rated/a"), "\(type): the first goes at once")
            let last = try await reader.next(within: 6)
            #expect(last["type"] == .string("Add") && last["object"] == .string(server.baseURL + "/rated/b"), "\(type): \(last.text)")
            #expect(ContinuousClock.now - start >= .milliseconds(900), "\(type): held to the period's end")
            #expect(await reader.isQuiet(for: 1.5), "\(type): nothing more")
        }
    }
}
