import EddyCore
import EddyTestSupport
import Foundation
import HTTPTypes
import Synchronization
import Testing

@testable import EddyServer

/// Federation outlives a restart of either server: the upstream socket redials its home and
/// subscribes again, and a restarted server finds where an entity lives from what it kept.
@Suite(.serialized) struct FederationRestartTests {
    /// A child server that can be stopped and started again on the same port and data.
    final class Restartable: Sendable {
        let data: URL
        let arguments: [String]
        private let current: Mutex<ChildServer>

        init(arguments: [String]) async throws {
            data = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-fed-\(UUID().uuidString)")
            self.arguments = arguments
            let server = try ChildServer(dataDirectory: data, arguments: arguments)
            try await server.start()
            current = Mutex(server)
        }

        var server: ChildServer { current.withLock { $0 } }
        var baseURL: String { server.baseURL }

        func restart() async throws {
            let old = server
            old.signal(SIGTERM)
            _ = try await old.waitForExit()
            let new = try ChildServer(dataDirectory: data, port: old.port, arguments: arguments)
            try await new.start()
            current.withLock { $0 = new }
        }

        func stop() {
            server.signal(SIGKILL)
            try? FileManager.default.removeItem(at: data)
        }

        /// How many Concrnt realtime subscriptions it holds, from its metrics.
        func concrntSubscriptions() async throws -> Int {
            guard let metrics = server.metricsURL else { throw TestFailure("no metrics listener: \(server.output)") }
            let body = try await TestHTTP.send(.GET, metrics).body
            let line = body.split(separator: "\n").first { $0.hasPrefix("eddy_subscriptions{") && $0.contains("protocol=\"concrnt\"") }
            return line.flatMap { Double($0.split(separator: " ").last ?? "") }.map { Int($0) } ?? 0
        }

        func waitForConcrntSubscriptions(atLeast count: Int) async throws {
            try await waitUntil("\(count) Concrnt subscriptions at \(baseURL)", seconds: 30) {
                ((try? await self.concrntSubscriptions()) ?? 0) >= count
            }
        }
    }

    @Test func aCommitAtHomeReachesAwayAcrossARestartOfEither() async throws {
        let common = ["--allow-outbound", "127.0.0.0/8", "--metrics", "127.0.0.1:0"]
        let home = try await Restartable(arguments: common)
        defer { home.stop() }
        let away = try await Restartable(arguments: common + ["--concrnt-peer", home.baseURL])
        defer { away.stop() }
        let alice = Entity()
        let uri = "cc://\(alice.ccid)/post"
        let commit = { @Sendable (value: Int) async throws -> String in
            let envelope = alice.signed(alice.document(key: "post", value: #"{"v":\#(value)}"#))
            let status = try await TestHTTP.send(.POST, home.baseURL + Concrnt.commitPath, body: envelope).status
            #expect(status < 300, "commit \(value) answered \(status)")
            return envelope
        }
        _ = try await commit(1)

        // Home restarts under a watcher away: the upstream comes back and carries on.
        try await SocketScript.run(away.baseURL.replacingOccurrences(of: "http://", with: "ws://") + Concrnt.realtimePath) { send, next in
            try await send(#"{"action":"subscribe","resources":["\#(uri)"]}"#)
            try await home.waitForConcrntSubscriptions(atLeast: 2)
            #expect(try await next()["resource"] == .string(uri))  // the fetched current state
            let second = try await commit(2)
            #expect(try await next()["signed_document"] == (try JSONValue(parsing: second)))

            try await home.restart()
            try await home.waitForConcrntSubscriptions(atLeast: 2)
            let third = try JSONValue(parsing: try await commit(3))
            var seen: [JSONValue] = []
            while !seen.contains(third) { seen.append(try await next()["signed_document"] ?? .null) }
        }

        // Away restarts: a watcher by path alone (no cc:// URI, no hint) is served again.
        try await away.restart()
        // The old upstream went with the old process; nothing away watches alice yet.
        try await waitUntil("home lets go of away's old upstream", seconds: 30) { try await home.concrntSubscriptions() == 0 }
        let delivered = try await withTimeout(60) {
            var stream = try await SSEReader.open(away.baseURL + "/.eddy/value-stream/cc/\(alice.ccid)/post")
            try await home.waitForConcrntSubscriptions(atLeast: 2)
            let fourth = try await commit(4)
            while let event = try await stream.next() {
                if (try? JSONValue(parsing: event.data))?["signedDocument"] == .string(fourth) { return true }
            }
            return false
        }
        #expect(delivered)
    }
}
