import AsyncHTTPClient
import EddyCore
import Foundation
import Testing

@Suite struct ChangeLogTests {
    @Test func concurrentPutsWithOneIfMatchLetExactlyOneThrough() async throws {
        try await TestServer.with { server in
            let etag = try #require(try await server.send(.PUT, "/race", json: #"{"v":0}"#).header("ETag"))
            let headBefore = try await server.server.store.headSequence()
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 1...50 {
                    group.addTask {
                        try await server.send(.PUT, "/race", headers: [("If-Match", etag)], json: #"{"v":\#(index)}"#).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 200 }.count == 1)
            #expect(statuses.filter { $0 == 412 }.count == 49)
            let events = try await server.server.store.events(after: headBefore, matching: nil, limit: 100)
            #expect(events.count == 1)
            #expect(events.first?.kind == .updated)
        }
    }

    @Test func eventStreamResumesAfterNWhileWritesStream() async throws {
        try await TestServer.with { server in
            let total = 300
            let writer = Task {
                for index in 1...total {
                    let status = try await server.send(.PUT, "/feed/\(index % 7)", json: #"{"i":\#(index)}"#).status
                    guard status == 200 || status == 201 else { throw TestFailure("write \(index) answered \(status)") }
                }
            }
            while try await server.server.store.headSequence() < 100 { try await Task.sleep(for: .milliseconds(5)) }
            let resumeFrom = 40
            let received = try await withTimeout(30) {
                var reader = try await SSEReader.open(server.baseURL + "/.eddy/events?path=/feed/&after=\(resumeFrom)")
                var ids: [Int] = []
                while let event = try await reader.next() {
                    ids.append(Int(Checkpoint(token: event.id ?? "")?.sequence ?? 0))
                    let parsed = try JSONValue(parsing: event.data)
                    #expect(parsed["seq"] == .int(Int64(ids.last!)))
                    if ids.last == total { break }
                }
                return ids
            }
            try await writer.value
            #expect(received == Array(resumeFrom + 1...total))
        }
    }

    @Test func lastEventIDResumesAndTruncatedHistoryResets() async throws {
        try await TestServer.with { server in
            for index in 1...6 { _ = try await server.send(.PUT, "/h/\(index)", json: "{}") }
            let epoch = server.server.store.epoch
            let token: @Sendable (SequenceNumber) -> String = { sequence in Checkpoint(epoch: epoch, sequence: sequence).token }
            let resumed = try await withTimeout(10) {
                var reader = try await SSEReader.open(server.baseURL + "/.eddy/events?path=/h/", headers: [("Last-Event-ID", token(4))])
                return [try await reader.next()?.id, try await reader.next()?.id]
            }
            #expect(resumed == [token(5), token(6)])

            _ = try await server.server.store.applyRetention(.init(maximumEvents: 2, maximumAgeSeconds: 3600), now: 0)
            let reset = try await withTimeout(10) {
                var reader = try await SSEReader.open(server.baseURL + "/.eddy/events?path=/h/&after=1")
                return try await reader.next()
            }
            #expect(reset?.event == "reset")
            // A position that is not from this log is a start-over too, never a guess.
            for foreign in ["abc", "other-4"] {
                let startOver = try await withTimeout(10) {
                    var reader = try await SSEReader.open(server.baseURL + "/.eddy/events?path=/h/&after=" + foreign)
                    return try await reader.next()
                }
                #expect(startOver?.event == "reset")
            }
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
