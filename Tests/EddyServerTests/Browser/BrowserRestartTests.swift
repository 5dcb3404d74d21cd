import Foundation
import Testing

/// The JavaScript client across server restarts: `eddy serve` children on one port, so the page
/// keeps its URLs while the server behind them goes away and comes back.
@Suite(.serialized, .enabled(if: Browser.shouldRun, "needs chromium and chromium-driver (always runs when CI is set)"))
struct BrowserRestartTests {
    static let transports = ["poll", "sse", "ws"]

    @Test func resumesAfterTheServerRestartsWithoutLosingOrRepeatingEvents() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-browser-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await ClientHarness.with { browser in
            let cors = ["--cors-origin", browser.page.origin]
            let first = try ChildServer(dataDirectory: directory, arguments: cors)
            try await first.start()
            let port = try #require(URL(string: first.baseURL)?.port)
            var objects: [String: [String]] = [:]
            var items: [String: [String]] = [:]
            for transport in Self.transports {
                _ = try await TestHTTP.send(.PUT, first.baseURL + "/r/\(transport)/obj", body: #"{"n":1}"#)
                _ = try await TestHTTP.send(.PUT, first.baseURL + "/r/\(transport)/items/a", body: #"{"v":1}"#)
            }
            // The client module comes from the child process: its bundled assets are found.
            try await browser.load(eddy: first.baseURL)
            for transport in Self.transports {
                try await browser.watch("obj-\(transport)", "/r/\(transport)/obj", transports: [transport])
                try await browser.watch("items-\(transport)", "/r/\(transport)/items/", transports: [transport])
                objects[transport] = ["value 1", "transport \(transport)"]
                items[transport] = ["value [a:1]", "transport \(transport)"]
            }
            for transport in Self.transports {
                try await browser.expect("obj-\(transport)", objects[transport]!)
                try await browser.expect("items-\(transport)", items[transport]!)
            }

            first.signal(SIGTERM)
            // A long-poll in flight is drained, not cut: the harness asks for short waits.
            #expect(try await first.waitForExit(seconds: 30) == 0)
            let second = try ChildServer(dataDirectory: directory, arguments: cors + ["--port", String(port)])
            try await second.start()
            defer { second.signal(SIGKILL) }
            #expect(second.baseURL == first.baseURL)
            // Written at once, most likely before the clients are back: they must catch up.
            for transport in Self.transports {
                _ = try await TestHTTP.send(.PUT, second.baseURL + "/r/\(transport)/obj", body: #"{"n":2}"#)
                _ = try await TestHTTP.send(.PUT, second.baseURL + "/r/\(transport)/items/b", body: #"{"v":1}"#)
                _ = try await TestHTTP.send(.PUT, second.baseURL + "/r/\(transport)/items/c", body: #"{"v":1}"#)
                objects[transport]!.append("value 2")
                items[transport]! += ["child-added b:1", "child-added c:1"]
            }
            for transport in Self.transports {
                try await browser.expect("obj-\(transport)", objects[transport]!, seconds: 20)
                try await browser.expect("items-\(transport)", items[transport]!, seconds: 20)
            }
            // And live again afterwards.
            for transport in Self.transports {
                _ = try await TestHTTP.send(.DELETE, second.baseURL + "/r/\(transport)/items/a")
                items[transport]!.append("child-removed a")
                try await browser.expect("items-\(transport)", items[transport]!)
            }
            // Nothing repeated later either: the next event of each is the next write.
            for transport in Self.transports {
                _ = try await TestHTTP.send(.PUT, second.baseURL + "/r/\(transport)/obj", body: #"{"n":3}"#)
                _ = try await TestHTTP.send(.PUT, second.baseURL + "/r/\(transport)/items/d", body: #"{"v":1}"#)
            }
            for transport in Self.transports {
                try await browser.expect("obj-\(transport)", objects[transport]! + ["value 3"])
                try await browser.expect("items-\(transport)", items[transport]! + ["child-added d:1"])
            }
        }
    }

    /// A server with a new store on the same port: no position can be resumed, and the client
    /// says so (`resync`) before it reports the difference.
    @Test func reportsAResyncWhenTheLogIsNew() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-browser-\(UUID().uuidString)")
        let fresh = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-browser-\(UUID().uuidString)")
        defer {
            try? FileManager.default.removeItem(at: directory)
            try? FileManager.default.removeItem(at: fresh)
        }
        try await ClientHarness.with { browser in
            let cors = ["--cors-origin", browser.page.origin]
            let first = try ChildServer(dataDirectory: directory, arguments: cors)
            try await first.start()
            let port = try #require(URL(string: first.baseURL)?.port)
            for transport in Self.transports {
                _ = try await TestHTTP.send(.PUT, first.baseURL + "/s/\(transport)/items/a", body: #"{"v":1}"#)
            }
            try await browser.load(eddy: first.baseURL)
            for transport in Self.transports {
                try await browser.watch("items-\(transport)", "/s/\(transport)/items/", transports: [transport])
                try await browser.expect("items-\(transport)", ["value [a:1]", "transport \(transport)"])
            }
            first.signal(SIGKILL)
            _ = try await first.waitForExit()
            let second = try ChildServer(dataDirectory: fresh, arguments: cors + ["--port", String(port)])
            try await second.start()
            defer { second.signal(SIGKILL) }
            // Something must happen for a long-poll or a quiet socket to notice the new log.
            for transport in Self.transports {
                _ = try await TestHTTP.send(.PUT, second.baseURL + "/s/\(transport)/items/z", body: #"{"v":1}"#)
            }
            for transport in Self.transports {
                let expected = ["value [a:1]", "transport \(transport)", "resync"]
                try await browser.expect("items-\(transport)", expected + ["child-removed a", "child-added z:1"], seconds: 20)
            }
        }
    }
}
