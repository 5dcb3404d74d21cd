import EddyCore
import Foundation
import Testing

/// One situation, one outcome on every surface: a client resuming from a position the log no
/// longer holds, or from another log, is told to start over — an SSE `reset` event that clears
/// the EventSource's last id and ends the stream, a 404 `error` on a socket, a 404 on a changes
/// URI — never a replay from a misread position, nor an error status on a stream already begun.
@Suite struct UniformStartOverTests {
    /// A server whose log no longer holds the events after sequence 1.
    static func withTruncatedHistory(_ body: (TestServer, _ truncated: String) async throws -> Void) async throws {
        try await TestServer.with { server in
            for index in 0..<4 { _ = try await server.send(.PUT, "/so/a", json: #"{"n":\#(index)}"#) }
            _ = try await server.server.store.applyRetention(RetentionPolicy(maximumEvents: 1), now: Int64(Date().timeIntervalSince1970 * 1000))
            try await body(server, Checkpoint(epoch: server.server.store.epoch, sequence: 1).token)
        }
    }

    static let foreign = "another-log-1"

    /// The stream at `url`, resumed from `token`, says `reset` (clearing the last id) and ends.
    static func expectResetStream(_ url: String, token: String, _ surface: String) async throws {
        let (status, first, rest) = try await withTimeout(10) {
            var reader = try await SSEReader.open(url, headers: [("Last-Event-ID", token)])
            let first = try await reader.next()
            let rest = try await reader.next()
            return (reader.response.status.code, first, rest)
        }
        #expect(status == 200, "\(surface): status")
        #expect(first?.event == "reset", "\(surface): \(String(describing: first))")
        #expect(first?.id == "", "\(surface): the reset clears the last event id")
        #expect(first?.data.contains("fetch the current state again") == true, "\(surface): \(String(describing: first))")
        #expect(rest == nil, "\(surface): the stream ends after the reset")
    }

    static func solidReceiveFrom(_ server: TestServer, topic: String) async throws -> String {
        let service = try await SolidTests.discoverService(server.baseURL + topic, type: "EventSourceChannel2023")
        let channel = try #require(try await SolidTests.subscribe(service, type: "EventSourceChannel2023", topic: server.baseURL + topic).json)
        guard case .string(let receiveFrom)? = channel["receiveFrom"] else { throw TestFailure("no receiveFrom") }
        return receiveFrom
    }

    @Test(arguments: ["truncated", "foreign"])
    func everyEventStreamSaysReset(situation: String) async throws {
        try await Self.withTruncatedHistory { server, truncated in
            let token = situation == "truncated" ? truncated : Self.foreign
            let base = server.baseURL
            try await Self.expectResetStream(base + "/.eddy/value-stream/so/a", token: token, "LiveResource value-stream")
            try await Self.expectResetStream(base + "/.eddy/changes-stream/so/", token: token, "LiveResource changes-stream")
            try await Self.expectResetStream(base + "/.eddy/multi-stream/?u=/so/a&u=/so/", token: token, "multiplex-stream")
            try await Self.expectResetStream(base + "/.eddy/events?path=/so/", token: token, "/.eddy/events")
            try await Self.expectResetStream(try await Self.solidReceiveFrom(server, topic: "/so/a"), token: token, "Solid EventSource")
        }
    }

    @Test(arguments: ["truncated", "foreign"])
    func requestAndSocketSurfacesSay404(situation: String) async throws {
        try await Self.withTruncatedHistory { server, truncated in
            let token = situation == "truncated" ? truncated : Self.foreign
            let changes = try await server.send(.GET, "/so/?after=" + token)
            #expect(changes.status == 404)
            #expect(changes.json?["type"] == .string("stale-checkpoint") || changes.body.contains("stale-checkpoint"))
            let wsURL = try #require(try await server.send(.GET, "/so/a").links["multiplex-ws"])
            try await SocketScript.run(wsURL) { send, next in
                try await send(#"{"id":1,"type":"subscribe","mode":"value","uri":"/so/a","after":"\#(token)"}"#)
                let answer = try await next()
                #expect(answer["type"] == .string("error"))
                #expect(answer["code"] == .int(404))
                guard case .string(let message)? = answer["message"] else { Issue.record("no message in \(answer)"); return }
                #expect(message.contains("fetch the current state again"))
            }
        }
    }

    /// `/.eddy/events` ids are checkpoints of this log, and a bare `after=N` still reads from N.
    @Test func eventLogIdsCarryTheEpoch() async throws {
        try await TestServer.with { server in
            for index in 1...3 { _ = try await server.send(.PUT, "/ids/\(index)", json: "{}") }
            let epoch = server.server.store.epoch
            let ids = try await withTimeout(10) {
                var reader = try await SSEReader.open(server.baseURL + "/.eddy/events?path=/ids/&after=1")
                return [try await reader.next()?.id, try await reader.next()?.id]
            }
            #expect(ids == [Checkpoint(epoch: epoch, sequence: 2).token, Checkpoint(epoch: epoch, sequence: 3).token])
        }
    }
}
