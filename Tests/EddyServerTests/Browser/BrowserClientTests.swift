import Foundation
import NIOHTTP1
import Testing

/// The JavaScript client in headless Chromium, on a page of another origin, against real servers.
@Suite(.serialized, .enabled(if: Browser.shouldRun, "needs chromium and chromium-driver (always runs when CI is set)"))
struct BrowserClientTests {
    /// Every event of an object and a collection, through one forced transport.
    @Test(arguments: ["poll", "sse", "ws"])
    func valueAndChildEventsThroughEachTransport(transport: String) async throws {
        try await ClientHarness.with { browser in
            try await browser.withEddy { server in
                let base = "/\(transport)"
                _ = try await server.send(.PUT, base + "/obj", json: #"{"n":1}"#)
                _ = try await server.send(.PUT, base + "/items/a", json: #"{"v":1}"#)
                try await browser.load(eddy: server.baseURL)
                try await browser.watch("obj", base + "/obj", transports: [transport])
                try await browser.watch("items", base + "/items/", transports: [transport])
                var object = ["value 1", "transport \(transport)"]
                var items = ["value [a:1]", "transport \(transport)"]
                try await browser.expect("obj", object)
                try await browser.expect("items", items)

                // One write at a time: long-polling reports a batch's net effect, not each step.
                let steps: [(method: HTTPMethod, path: String, body: String?, target: String, event: String)] = [
                    (.PUT, "/obj", #"{"n":2}"#, "obj", "value 2"),
                    (.PUT, "/items/b", #"{"v":1}"#, "items", "child-added b:1"),
                    (.PATCH, "/items/a", #"{"v":2}"#, "items", "child-changed a:2"),
                    (.DELETE, "/items/a", nil, "items", "child-removed a"),
                    (.DELETE, "/obj", nil, "obj", "removed"),
                    (.PUT, "/obj", #"{"n":3}"#, "obj", "value 3"),
                    (.DELETE, "/items/b", nil, "items", "child-removed b"),
                    (.PUT, "/items/c", #"{"v":1}"#, "items", "child-added c:1"),
                ]
                for step in steps {
                    let reply = try await server.send(
                        step.method, base + step.path, json: step.body,
                        contentType: step.method == .PATCH ? "application/merge-patch+json" : "application/json")
                    #expect(reply.status < 300)
                    if step.target == "obj" { object.append(step.event) } else { items.append(step.event) }
                    try await browser.expect(step.target, step.target == "obj" ? object : items)
                }
                // Nothing late, nothing twice: after the last step, the next event of each is
                // the next write.
                _ = try await server.send(.PUT, base + "/obj", json: #"{"n":4}"#)
                _ = try await server.send(.PUT, base + "/items/d", json: #"{"v":1}"#)
                try await browser.expect("obj", object + ["value 4"])
                try await browser.expect("items", items + ["child-added d:1"])
                #expect(try await browser.errors("obj").isEmpty)
                #expect(try await browser.errors("items").isEmpty)
            }
        }
    }

    /// `new LiveResource({updates})` starts from the given changes URI: what happened after it
    /// arrives first, without an initial listing.
    @Test(arguments: ["poll", "sse", "ws"])
    func startsFromAnUpdatesURL(transport: String) async throws {
        try await ClientHarness.with { browser in
            try await browser.withEddy { server in
                _ = try await server.send(.PUT, "/feed/a", json: #"{"v":1}"#)
                let listing = try await server.send(.GET, "/feed/")
                let changes = try #require(listing.headers["Link"].compactMap { link in
                    link.contains("changes-wait") ? link.firstMatch(of: /<([^>]+)>/).map { String($0.1) } : nil
                }.first)
                _ = try await server.send(.PUT, "/feed/b", json: #"{"v":1}"#)
                try await browser.load(eddy: server.baseURL)
                try await browser.watchUpdates("feed", changes, transports: [transport])
                // Sockets report their transport after the catch-up read, the others before.
                try await browser.expect("feed", ["child-added b:1", "transport \(transport)"], ordered: false)
                _ = try await server.send(.PUT, "/feed/a", json: #"{"v":2}"#)
                try await browser.expect("feed", ["child-added b:1", "transport \(transport)", "child-added a:2"], ordered: false)
                #expect(try await browser.lines("feed").last == "child-added a:2")
            }
        }
    }

    /// With every transport allowed the client polls first and upgrades to the WebSocket.
    @Test func upgradesFromLongPollingToTheWebSocket() async throws {
        try await ClientHarness.with { browser in
            try await browser.withEddy { server in
                _ = try await server.send(.PUT, "/up/obj", json: #"{"n":1}"#)
                try await browser.load(eddy: server.baseURL)
                try await browser.watch("obj", "/up/obj", transports: nil)
                try await browser.expect("obj", ["value 1", "transport poll", "transport ws"])
                _ = try await server.send(.PUT, "/up/obj", json: #"{"n":2}"#)
                try await browser.expect("obj", ["value 1", "transport poll", "transport ws", "value 2"])
            }
        }
    }
}
