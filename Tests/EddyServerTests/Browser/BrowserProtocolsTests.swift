import Foundation
import Testing

/// The JavaScript client's Solid and Concrnt subscriptions, from a page of another origin.
@Suite(.serialized, .enabled(if: Browser.shouldRun, "needs chromium and chromium-driver (always runs when CI is set)"))
struct BrowserProtocolsTests {
    @Test(arguments: ["EventSourceChannel2023", "WebSocketChannel2023"])
    func solidChannelsBySubscribingToATopic(channel: String) async throws {
        try await ClientHarness.with { browser in
            try await browser.withEddy { server in
                _ = try await server.send(.PUT, "/solid/topic", json: #"{"n":1}"#)
                try await browser.load(eddy: server.baseURL)
                try await browser.driver.execute("window.solid('topic', '/solid/topic', arguments[0])", [channel])
                try await browser.expect("topic", ["open"])
                _ = try await server.send(.PUT, "/solid/topic", json: #"{"n":2}"#)
                try await browser.expect("topic", ["open", "Update /solid/topic"])
                _ = try await server.send(.DELETE, "/solid/topic")
                try await browser.expect("topic", ["open", "Update /solid/topic", "Delete /solid/topic"])
            }
        }
    }

    @Test func concrntRealtimeBySubscribingToACcURI() async throws {
        try await ClientHarness.with { browser in
            try await browser.withEddy { server in
                let alice = Entity()
                let uri = "cc://\(alice.ccid)/note"
                try await browser.load(eddy: server.baseURL)
                let idle = server.server.hub.subscriberCount
                try await browser.driver.execute("window.concrnt('note', arguments[0])", [uri])
                try await browser.expect("note", ["open"])
                // The spec dialect does not acknowledge a subscription: the hub shows it landed.
                try await server.waitForSubscribers(atLeast: idle + 1)
                #expect(try await ConcrntTests.commit(server, alice.signed(alice.document(key: "note"))).status == 201)
                try await browser.expect("note", ["open", "created \(uri)"])
                #expect(try await ConcrntTests.commit(server, alice.signed(alice.document(key: "note", kind: "delete"))).status < 300)
                try await browser.expect("note", ["open", "created \(uri)", "deleted \(uri)"])
            }
        }
    }
}
