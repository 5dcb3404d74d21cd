import EddyClient
import EddyCore
import Foundation
import Testing

/// Reconnecting: across a server restart nothing is lost or repeated, and when the server no
/// longer holds the client's position the client says so (`resynced`) and starts over.
@Suite(.serialized) struct ResumeTests {
    static func follow(_ url: String, _ transport: LiveTransport) -> EventCollector {
        EventCollector(LiveResource(url, options: .init(transport: transport, waitSeconds: 10, maximumRetryDelay: .milliseconds(500))))
    }

    static func addedIDs(_ events: [LiveResourceEvent]) -> [String] {
        events.compactMap { event in
            guard case .childAdded(let item) = event.kind, case .string(let id)? = item["id"] else { return nil }
            return id
        }
    }

    @Test(arguments: LiveTransport.allCases)
    func resumesAcrossARestartWithoutLossOrRepeats(transport: LiveTransport) async throws {
        var server = try await TestServer.start()
        try await server.send(.PUT, "/feed/0", json: "{}")
        try await server.send(.PUT, "/counter", json: #"{"n":0}"#)
        let feed = Self.follow(server.baseURL + "/feed/", transport)
        let counter = Self.follow(server.baseURL + "/counter", transport)
        defer {
            feed.stop()
            counter.stop()
        }
        _ = try await feed.waitFor(1)
        _ = try await counter.waitFor(1)
        try await server.send(.PUT, "/feed/1", json: "{}")
        try await server.send(.PUT, "/counter", json: #"{"n":1}"#)
        _ = try await feed.waitFor(2)
        _ = try await counter.waitFor(2)

        server = try await server.restarted()
        // Written while the clients may still be reconnecting: resuming must bring them.
        for index in 2...4 {
            try await server.send(.PUT, "/feed/\(index)", json: "{}")
            try await server.send(.PUT, "/counter", json: #"{"n":\#(index)}"#)
        }
        let events = try await feed.waitFor(5)
        let values = try await waitForValue(4, in: counter)
        // A last write after everything else: whatever was repeated would arrive before it.
        try await server.send(.PUT, "/feed/5", json: "{}")
        let final = try await feed.waitFor(events.count + 1)
        await server.stop()

        #expect(Self.addedIDs(final) == ["1", "2", "3", "4", "5"])
        #expect(!final.contains { $0.kind == .resynced })
        let counts = values.compactMap { event -> Int64? in
            if case .value(let value) = event.kind, case .int(let n)? = value["n"] { n } else { nil }
        }
        if transport == .poll {
            // Long-polling follows values: the latest arrives, earlier ones may be skipped, none repeated.
            #expect(counts.last == 4 && counts == counts.sorted() && Set(counts).count == counts.count)
        } else {
            #expect(counts == [0, 1, 2, 3, 4])
        }
    }

    @Test(arguments: LiveTransport.allCases)
    func reportsAResyncWhenTheHistoryIsGone(transport: LiveTransport) async throws {
        let first = try await TestServer.start()
        try await first.send(.PUT, "/gone/0", json: "{}")
        let feed = Self.follow(first.baseURL + "/gone/", transport)
        defer { feed.stop() }
        _ = try await feed.waitFor(1)
        try await first.send(.PUT, "/gone/1", json: "{}")
        _ = try await feed.waitFor(2)
        await first.stop(removingData: false)

        // Meanwhile, on another port the client does not know: more changes, then retention
        // drops all but the newest, so the client's checkpoint is older than the log.
        let elsewhere = try await TestServer.start(directory: first.directory)
        try await elsewhere.send(.PUT, "/gone/2", json: "{}")
        try await elsewhere.send(.PUT, "/gone/3", json: "{}")
        let dropped = try await elsewhere.server.store.applyRetention(
            RetentionPolicy(maximumEvents: 1), now: Int64(Date().timeIntervalSince1970 * 1000))
        #expect(dropped > 0)
        await elsewhere.stop(removingData: false)

        let again = try await TestServer.start(directory: first.directory, port: first.port)
        let events = try await feed.waitFor(4)
        try await again.send(.PUT, "/gone/4", json: "{}")
        let final = try await feed.waitFor(5)
        await again.stop()

        #expect(events[2].kind == .resynced)
        #expect(events[3].kind == .value(try json(#"[{"id":"0"},{"id":"1"},{"id":"2"},{"id":"3"}]"#)))
        #expect(final[4].kind == .childAdded(try json(#"{"id":"4"}"#)))
    }

    private func waitForValue(_ n: Int64, in collector: EventCollector) async throws -> [LiveResourceEvent] {
        var count = 1
        while true {
            let events = try await collector.waitFor(count)
            if case .value(let value) = events.last?.kind, value["n"] == .int(n) { return events }
            count = events.count + 1
        }
    }
}
