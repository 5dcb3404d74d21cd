import EddyCore
import EddyTestSupport
@testable import EddyServer
import Foundation
import Testing

/// The `--metrics` listener: real traffic moves its counts, and it is not served where other
/// machines could read it unless the operator says so.
@Suite struct MetricsTests {
    private static func configure(_ configuration: inout ServerConfiguration) {
        configuration.metricsAddress = MetricsAddress("127.0.0.1:0")
        configuration.allowOutbound = [CIDR("127.0.0.0/8")!]
        configuration.delivery.firstRetrySeconds = 0.05
        configuration.subscriberBufferEvents = 8
    }

    @Test func countsMoveWithWritesStreamsWebhooksAndDrops() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await TestServer.with(configure: Self.configure) { server in
            let scrape = Scrape(port: await server.server.metrics.listening.port())
            let sse = #"eddy_subscriptions{protocol="eventstream",transport="sse"}"#
            let webhook = #"eddy_subscriptions{protocol="webhook",transport="http-callback"}"#
            let longPoll = #"eddy_subscriptions{protocol="liveresource",transport="longpoll"}"#
            let before = try await scrape.read()
            #expect(before[sse] == 0)
            #expect(before["eddy_events_committed_total"] == 0)
            #expect(before[#"eddy_subscribers_dropped_total{reason="tooSlow"}"#] == 0)

            _ = try await server.send(.PUT, "/m/x", json: "{}")
            let callbacks = try #require(try await server.send(.GET, "/m/x").links["value-callback"])
            let form = "callback_uri=" + (receiver.url.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
            let registered = try await TestHTTP.send(.POST, callbacks, body: form, contentType: "application/x-www-form-urlencoded")
            #expect(registered.status == 201)
            let stream = try RawConnection(port: server.port, timeoutSeconds: 10)
            try stream.send("GET /.eddy/value-stream/m/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
            let subscribed = try await scrape.waitUntil { $0[sse] == 1 && $0[webhook] == 1 }
            let openConnections = try #require(subscribed["eddy_open_connections"])
            #expect(openConnections >= 1)
            #expect(subscribed[#"eddy_subscriptions{protocol="other",transport="other"}"#] == 0)
            let etag = try #require(try await server.send(.GET, "/m/x").header("ETag"))
            let poll = try RawConnection(port: server.port, timeoutSeconds: 10)
            try poll.send("GET /m/x HTTP/1.1\r\nHost: 127.0.0.1\r\nWait: 20\r\nIf-None-Match: \(etag)\r\n\r\n")
            _ = try await scrape.waitUntil { $0[longPoll] == 1 }

            _ = try await server.send(.PUT, "/m/x", json: #"{"n":1}"#)
            let received = try await blocking { stream.read(until: #"{"n":1}"#) }
            #expect(received.contains(#"{"n":1}"#))
            _ = try await receiver.waitFor(1)
            let answered = try await blocking { poll.read(until: #"{"n":1}"#) }
            #expect(answered.hasPrefix("HTTP/1.1 200"))
            let head = try await server.server.store.headSequence()
            let after = try await scrape.waitUntil { ($0["eddy_webhook_attempts_total"] ?? 0) >= 1 }
            #expect(after["eddy_events_committed_total"] == 2)
            #expect(after["eddy_commit_batch_events_count"] == 2)
            #expect(after["eddy_commit_latency_seconds_count"] == 2)
            // The second write reached the stream and the long-poll, and woke the webhook's worker.
            #expect((after["eddy_deliveries_total"] ?? 0) >= 3)
            #expect(after[longPoll] == 0)
            #expect(after["eddy_webhook_failures_total"] == 0)
            #expect(after["eddy_log_head_sequence"] == Double(head))
            #expect(after["eddy_follower_lag_events"] == 0)
            #expect(after["eddy_webhook_backlog_events"] == 0)

            // A reader that never reads is dropped as too slow once its buffer is full.
            let slow = try RawConnection(port: server.port, timeoutSeconds: 10)
            var small: Int32 = 4096
            setsockopt(slow.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            try slow.send("GET /.eddy/value-stream/m/slow HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
            _ = try await scrape.waitUntil { $0[sse] == 2 }
            let big = "{\"pad\":\"" + String(repeating: "x", count: 200_000) + "\"}"
            for _ in 0..<80 {
                _ = try await server.send(.PUT, "/m/slow", json: big)
                if try await scrape.read()[#"eddy_subscribers_dropped_total{reason="tooSlow"}"#] == 1 { break }
            }
            let dropped = try await scrape.waitUntil { $0[#"eddy_subscribers_dropped_total{reason="tooSlow"}"#] == 1 }
            #expect(dropped[sse] == 1)
        }
    }

    @Test func otherPathsAreNotFound() async throws {
        try await TestServer.with(configure: Self.configure) { server in
            let port = await server.server.metrics.listening.port()
            let response = try await TestHTTP.send(.GET, "http://127.0.0.1:\(port)/")
            #expect(response.status == 404)
        }
    }

    @Test func aListenerOtherMachinesReachIsRefusedUnlessPublic() async throws {
        var configuration = ServerConfiguration()
        configuration.dataDirectory = RunningServer.freshDirectory()
        defer { try? FileManager.default.removeItem(at: configuration.dataDirectory) }
        configuration.metricsAddress = MetricsAddress("0.0.0.0:9464")
        #expect(throws: ConfigurationError.self) { try EddyServer.checkSafeToServe(configuration) }
        configuration.metricsAddress = MetricsAddress("[::]:9464")
        #expect(throws: ConfigurationError.self) { try EddyServer.checkSafeToServe(configuration) }
        configuration.metricsPublic = true
        try EddyServer.checkSafeToServe(configuration)
        configuration.metricsPublic = false
        for loopback in ["127.0.0.1:9464", "localhost:9464", "[::1]:9464"] {
            configuration.metricsAddress = MetricsAddress(loopback)
            try EddyServer.checkSafeToServe(configuration)
        }
    }

    @Test func theCommandRefusesAPublicListenerWithoutTheFlag() async throws {
        let directory = RunningServer.freshDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let child = try ChildServer(dataDirectory: directory, arguments: ["--metrics", "0.0.0.0:9464"])
        try child.process.run()
        #expect(try await child.waitForExit() != 0)
        #expect(child.output.contains("--metrics-public"))
    }

    @Test func addressesAreParsedStrictly() {
        #expect(MetricsAddress("127.0.0.1:9464") == MetricsAddress("127.0.0.1:9464"))
        #expect(MetricsAddress("[::1]:9464")?.host == "::1")
        for bad in ["9464", "127.0.0.1", "127.0.0.1:", ":9464", "127.0.0.1:99999", "127.0.0.1:+1", "::1:9464", "[::1]9464", "127.0.0.1:0009464"] {
            #expect(MetricsAddress(bad) == nil, "\(bad)")
        }
    }
}

/// Reads the listener's Prometheus text into sample name (with its labels) → value.
struct Scrape: Sendable {
    let port: Int

    func read() async throws -> [String: Double] {
        let response = try await TestHTTP.send(.GET, "http://127.0.0.1:\(port)/metrics")
        guard response.status == 200 else { throw TestFailure("GET /metrics answered \(response.status)") }
        guard response.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true else {
            throw TestFailure("GET /metrics is \(response.header("Content-Type") ?? "untyped")")
        }
        var samples: [String: Double] = [:]
        for line in response.body.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    /// Scrapes until `condition` holds; returns that scrape.
    func waitUntil(within seconds: Double = 10, _ condition: ([String: Double]) -> Bool) async throws -> [String: Double] {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let samples = try await read()
            if condition(samples) { return samples }
            guard Date() < deadline else {
                throw TestFailure("metrics did not get there within \(seconds) s: \(samples.sorted { $0.key < $1.key })")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// On PostgreSQL each node counts what its follower reads from the shared log, whoever wrote it.
@Suite(.enabled(if: TestStore.postgresBase != nil || ProcessInfo.processInfo.environment["CI"] == "true"))
struct ClusterMetricsTests {
    @Test func aNodeCountsTheOtherNodesCommitsAndCatchesUp() async throws {
        try await ClusterTests.withTwoNodes(configure: { $0.metricsAddress = MetricsAddress("127.0.0.1:0") }) { nodes in
            let scrapeB = Scrape(port: await nodes.b.server.metrics.listening.port())
            #expect(try await scrapeB.read()["eddy_events_committed_total"] == 0)
            for n in 1...3 { _ = try await nodes.a.send(.PUT, "/c/\(n)", json: "{}") }
            let head = try await nodes.a.server.store.headSequence()
            let caughtUp = try await scrapeB.waitUntil { $0["eddy_events_committed_total"] == 3 }
            #expect(caughtUp["eddy_log_head_sequence"] == Double(head))
            #expect(caughtUp["eddy_follower_lag_events"] == 0)
        }
    }
}
