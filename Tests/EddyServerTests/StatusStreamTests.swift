import EddyCore
@testable import EddyServer
import Foundation
import Testing

/// `/.eddy/status`: the live page's status panel's stream tells what the server is doing, only
/// to whoever may read the root, and holds a bounded number of streams.
@Suite(.serialized)
struct StatusStreamTests {
    @Test func theStreamCountsSubscribersAndFollowsTheLog() async throws {
        try await TestServer.with { server in
            var status = try await SSEReader.open(server.baseURL + "/.eddy/status")
            #expect(status.response.status == .ok)
            let first = try #require(try await status.next())
            #expect(first.event == "status")
            let start = try JSONValue(parsing: first.data)
            guard case .int(let startHead)? = start["head"] else { throw TestFailure("no head in \(first.data)") }

            // A subscriber and writes it is told of: both show in the following samples.
            var watcher = try await SSEReader.open(server.baseURL + "/.eddy/value-stream/status/note")
            for index in 0..<5 { _ = try await server.send(.PUT, "/status/note", json: #"{"n":\#(index)}"#) }
            _ = try await watcher.next()

            var sawSubscriber = false, sawHead = false, sawRate = false
            for _ in 0..<15 where !(sawSubscriber && sawHead && sawRate) {
                let event = try #require(try await status.next())
                let sample = try JSONValue(parsing: event.data)
                if case .int(let count)? = sample["connections"]?["eventstream/sse"], count >= 1 { sawSubscriber = true }
                if case .int(let head)? = sample["head"], head >= startHead + 5 { sawHead = true }
                if let rate = sample["eventsPerSecond"]?.doubleValue, rate > 0 { sawRate = true }
                if case .int(let open)? = sample["openConnections"] { #expect(open >= 2, "the status and value streams: \(event.data)") }
            }
            #expect(sawSubscriber, "the value stream was never counted")
            #expect(sawHead, "the head never passed \(startHead + 5)")
            #expect(sawRate, "events per second never rose above 0")
        }
    }

    @Test func itIsServedOnlyToWhoMayReadTheRoot() async throws {
        try await TestServer.with(policy: #"{"rules":[{"path":"/","read":"authenticated","write":"authenticated"}]}"#) { server in
            let anonymous = try await server.raw("GET", "/.eddy/status")
            #expect(anonymous.status == 401, "anonymous: \(anonymous.status)")
            #expect(anonymous.head.lowercased().contains("content-type: application/problem+json"), "\(anonymous.head)")
            var signedIn = try await SSEReader.open(server.baseURL + "/.eddy/status", headers: [try await Tokens.bearer("alice")])
            #expect(signedIn.response.status == .ok)
            #expect(try await signedIn.next()?.event == "status")
        }
    }

    @Test func atMost64StreamsRunAtOnce() async throws {
        try await TestServer.with { server in
            let port = server.port
            var open: [RawConnection] = []
            for _ in 0..<StatusStream.maximumStreams {
                let connection = try RawConnection(port: port)
                try connection.send("GET /.eddy/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                let head = try await blocking { Self.readHead(connection) }
                #expect(head.hasPrefix("HTTP/1.1 200"), "stream \(open.count + 1): \(head)")
                open.append(connection)
            }
            let refused = try await server.raw("GET", "/.eddy/status")
            #expect(refused.status == 503)
            #expect(refused.head.lowercased().contains("retry-after:"), "\(refused.head)")
            // A stream whose client left frees its place once a write to it fails (within a tick).
            open.removeLast()
            var head = ""
            for _ in 0..<50 where !head.hasPrefix("HTTP/1.1 200") {
                let connection = try RawConnection(port: port)
                try connection.send("GET /.eddy/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                head = try await blocking { Self.readHead(connection) }
                if !head.hasPrefix("HTTP/1.1 200") { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(head.hasPrefix("HTTP/1.1 200"), "\(head)")
        }
    }

    /// The status line and headers, read byte by byte up to the blank line.
    static func readHead(_ connection: RawConnection) -> String {
        var received: [UInt8] = []
        var byte: UInt8 = 0
        while !received.suffix(4).elementsEqual([13, 10, 13, 10]), recv(connection.fd, &byte, 1, 0) == 1 { received.append(byte) }
        return String(decoding: received, as: UTF8.self)
    }
}
