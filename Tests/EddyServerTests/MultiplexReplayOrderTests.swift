import EddyCore
import Foundation
import Testing

/// A multiplex stream resuming from one position replays every resource it watches in log
/// order, so each event id it hands out is a position a client can resume from without loss.
@Suite struct MultiplexReplayOrderTests {
    static func url(_ server: TestServer) -> String {
        server.baseURL + "/.eddy/multi-stream/?u=%2Fm%2Fa&u=%2Fm%2Fb"
    }

    @Test func replayInterleavesTheResourcesAsCommitted() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/m/a", json: #"{"v":"a0"}"#)
            let start = try #require(try await server.send(.PUT, "/m/b", json: #"{"v":"b0"}"#).header("ETag"))
            for round in 1...3 {
                for name in ["a", "b"] { _ = try await server.send(.PUT, "/m/\(name)", json: #"{"v":"\#(name)\#(round)"}"#) }
            }
            let url = Self.url(server)
            let position = start.trimmingCharacters(in: CharacterSet(charactersIn: "\""))

            let replay = try await Self.read(6, from: url, after: position)
            #expect(replay.map(\.value) == ["a1", "b1", "a2", "b2", "a3", "b3"])

            // A client that read three events and reconnects gets exactly the other three.
            let resumed = try await Self.read(3, from: url, after: replay[2].id)
            #expect(resumed.map(\.value) == ["b2", "a3", "b3"])
            #expect(resumed.map(\.id) == replay.suffix(3).map(\.id))
        }
    }

    /// Writes made while a resuming stream replays arrive once each, after the replay, in order.
    @Test func writesDuringTheReplayFollowItWithoutGapOrRepeat() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/m/a", json: #"{"v":"a0"}"#)
            let start = try #require(try await server.send(.PUT, "/m/b", json: #"{"v":"b0"}"#).header("ETag"))
            for round in 1...50 {
                for name in ["a", "b"] { _ = try await server.send(.PUT, "/m/\(name)", json: #"{"v":"\#(name)\#(round)"}"#) }
            }
            let url = Self.url(server)
            let position = start.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            let values = try await withTimeout(20) {
                var reader = try await SSEReader.open(url, headers: [("Last-Event-ID", position)])
                let writer = Task {
                    for round in 51...60 {
                        for name in ["a", "b"] { _ = try await server.send(.PUT, "/m/\(name)", json: #"{"v":"\#(name)\#(round)"}"#) }
                    }
                }
                var seen: [String] = []
                while seen.count < 120, let event = try await reader.next() {
                    if case .string(let value)? = try JSONValue(parsing: event.data)["body"]?["v"] { seen.append(value) }
                }
                try await writer.value
                return seen
            }
            #expect(values == (1...60).flatMap { ["a\($0)", "b\($0)"] })
        }
    }

    static func read(_ count: Int, from url: String, after position: String) async throws -> [(id: String, value: String)] {
        try await withTimeout(10) {
            var reader = try await SSEReader.open(url, headers: [("Last-Event-ID", position)])
            var events: [(id: String, value: String)] = []
            while events.count < count, let event = try await reader.next() {
                guard let id = event.id, case .string(let value)? = try JSONValue(parsing: event.data)["body"]?["v"] else {
                    throw TestFailure("unexpected event \(event)")
                }
                events.append((id, value))
            }
            return events
        }
    }
}
