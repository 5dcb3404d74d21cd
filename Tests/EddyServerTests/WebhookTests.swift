import AsyncHTTPClient
import EddyCore
import EddyServer
import Foundation
import Testing

@Suite struct WebhookTests {
    private func form(_ callback: String) -> String {
        "callback_uri=" + (callback.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? callback)
    }

    private static func allowLoopback(_ configuration: inout ServerConfiguration) {
        configuration.allowOutbound = [CIDR("127.0.0.0/8")!]
        configuration.delivery.firstRetrySeconds = 0.05
    }

    @Test func loopbackTargetsNeedTheAllowList() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/hooked", json: "{}")
            let callbacks = try #require(try await server.send(.GET, "/hooked").links["value-callback"])
            let refused = try await TestHTTP.send(.POST, callbacks, body: form(receiver.url), contentType: "application/x-www-form-urlencoded")
            #expect(refused.status == 400)
            #expect(refused.json?["type"] == .string("urn:eddy:problem:callback-refused"))
        }
        try await TestServer.with(configure: Self.allowLoopback) { server in
            _ = try await server.send(.PUT, "/hooked", json: "{}")
            let callbacks = try #require(try await server.send(.GET, "/hooked").links["value-callback"])
            let created = try await TestHTTP.send(.POST, callbacks, body: form(receiver.url), contentType: "application/x-www-form-urlencoded")
            #expect(created.status == 201)
            let location = try #require(created.header("Location"))
            #expect(location.hasSuffix("/" + receiver.url.percentEncodedSegment()))
            _ = try await server.send(.PUT, "/hooked", json: #"{"n":1}"#)
            let delivered = try await receiver.waitFor(1)
            #expect(delivered[0].body == #"{"n":1}"#)
            #expect(delivered[0].location == server.baseURL + "/hooked")
            #expect(delivered[0].contentType == "application/json")
        }
    }

    @Test func failingReceiverStillGetsEveryChangeInOrder() async throws {
        let receiver = try await WebhookReceiver.start(failFirst: 2)
        defer { Task { await receiver.stop() } }
        try await TestServer.with(configure: Self.allowLoopback) { server in
            _ = try await server.send(.PUT, "/ordered", json: #"{"n":0}"#)
            let callbacks = try #require(try await server.send(.GET, "/ordered").links["value-callback"])
            #expect(try await TestHTTP.send(.POST, callbacks, body: form(receiver.url), contentType: "application/x-www-form-urlencoded").status == 201)
            for index in 1...5 { _ = try await server.send(.PUT, "/ordered", json: #"{"n":\#(index)}"#) }
            _ = try await server.send(.DELETE, "/ordered")
            let delivered = try await receiver.waitFor(6)
            #expect(delivered.map(\.body) == (1...5).map { #"{"n":\#($0)}"# } + [""])
            #expect(receiver.attempts == 8)
        }
    }

    @Test func collectionCallbacksCarryChangesAndPrevChangesLinks() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await TestServer.with(configure: Self.allowLoopback) { server in
            _ = try await server.send(.PUT, "/box/a", json: "{}")
            let listing = try await server.send(.GET, "/box/")
            let callbacks = try #require(listing.links["changes-callback"])
            #expect(try await TestHTTP.send(.POST, callbacks, body: form(receiver.url), contentType: "application/x-www-form-urlencoded").status == 201)
            _ = try await server.send(.PUT, "/box/a", json: #"{"a":1}"#)
            _ = try await server.send(.POST, "/box/", json: #"{"b":1}"#)
            _ = try await server.send(.DELETE, "/box/a")
            let delivered = try await receiver.waitFor(3)
            #expect(delivered[0].body == #"[{"id":"a","a":1}]"#)
            #expect(delivered[2].body == #"[{"id":"a","deleted":true}]"#)
            let links = delivered.map { LinkHeaders.parse(.init($0.links.map { ("Link", $0) })) }
            for index in 1..<links.count {
                #expect(links[index]["prev-changes"] == links[index - 1]["changes"], "delivery \(index) does not chain")
            }
            // The last changes link is where a resyncing receiver continues: nothing is pending.
            #expect(try await TestHTTP.send(.GET, try #require(links.last?["changes"])).body == "[]")

            // Unsubscribing stops deliveries.
            let listed = try await TestHTTP.send(.GET, callbacks)
            #expect(listed.json == .array([.object(["callback_uri": .string(receiver.url)])]))
            let subscription = callbacks + receiver.url.percentEncodedSegment()
            #expect(try await TestHTTP.send(.DELETE, subscription).status == 204)
            #expect(try await TestHTTP.send(.DELETE, subscription).status == 404)
            _ = try await server.send(.PUT, "/box/after", json: "{}")
            // Subscribed anew, the receiver hears of what is written from now on: the next
            // delivery is that write, and the change made while unsubscribed never came.
            #expect(try await TestHTTP.send(.POST, callbacks, body: form(receiver.url), contentType: "application/x-www-form-urlencoded").status == 201)
            _ = try await server.send(.PUT, "/box/fence", json: "{}")
            let resumed = try await receiver.waitFor(4)
            #expect(resumed.map(\.body) == delivered.map(\.body) + [#"[{"id":"fence"}]"#])
        }
    }

    @Test func subscriptionsSurviveARestartAndCatchUp() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-hooks-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let arguments = ["--allow-outbound", "127.0.0.0/8"]
        let first = try ChildServer(dataDirectory: directory, arguments: arguments)
        try await first.start()
        _ = try await TestHTTP.send(.PUT, first.baseURL + "/persist", body: #"{"n":0}"#)
        let callbacks = try #require(try await TestHTTP.send(.GET, first.baseURL + "/persist").links["value-callback"])
        #expect(try await TestHTTP.send(.POST, callbacks, body: form(receiver.url), contentType: "application/x-www-form-urlencoded").status == 201)
        _ = try await TestHTTP.send(.PUT, first.baseURL + "/persist", body: #"{"n":1}"#)
        _ = try await receiver.waitFor(1)
        first.signal(SIGTERM)
        _ = try await first.waitForExit()

        let second = try ChildServer(dataDirectory: directory, arguments: arguments)
        try await second.start()
        defer { second.signal(SIGKILL) }
        _ = try await TestHTTP.send(.PUT, second.baseURL + "/persist", body: #"{"n":2}"#)
        let delivered = try await receiver.waitFor(2)
        #expect(delivered.map(\.body) == [#"{"n":1}"#, #"{"n":2}"#])
    }
}
