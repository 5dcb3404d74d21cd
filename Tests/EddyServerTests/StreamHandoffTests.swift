import EddyCore
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// HTTP/1.1 event streams are written by the connection's pipeline once the response head is
/// out, and hold no task while idle. These pin down what that path must do on the wire.
@Suite struct StreamHandoffTests {
    @Test func streamsStayChunkedAndIgnoreBytesPipelinedAfterThem() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/p", json: #"{"v":0}"#)
            let connection = try RawConnection(port: server.port, timeoutSeconds: 5)
            try connection.send(
                "GET /.eddy/value-stream/p HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\nnot http at all\r\n\r\n")
            let opening = try await blocking { connection.read(until: ": eddy\n\n") }
            #expect(opening.lowercased().contains("transfer-encoding: chunked"))
            #expect(opening.contains("\r\n\r\n8\r\n: eddy\n\n"))
            _ = try await server.send(.PUT, "/p", json: #"{"v":1}"#)
            let event = try await blocking { connection.read(until: "{\"v\":1}\n\n\r\n") }
            #expect(!event.contains("HTTP/1.1"))
            #expect(event.contains("data: {\"v\":1}\n\n\r\n"))
        }
    }

    @Test func aClientThatLeavesReleasesItsSubscriptionAtOnce() async throws {
        // Keep-alives far apart: the stream must notice the client leaving without writing.
        try await TestServer.with(configure: { $0.keepAliveSeconds = 600 }) { server in
            let before = server.server.hub.subscriberCount
            var connections: [RawConnection] = []
            for _ in 0..<20 {
                let connection = try RawConnection(port: server.port, timeoutSeconds: 5)
                try connection.send("GET /.eddy/events?path=/gone/ HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
                _ = try await blocking { connection.read(until: ": eddy\n\n") }
                connections.append(connection)
            }
            #expect(server.server.hub.subscriberCount == before + 20)
            connections.removeAll()
            try await Self.eventually { server.server.hub.subscriberCount == before }
        }
    }

    @Test func aBurstOfCommitsDoesNotCutOffAClientThatReads() async throws {
        // A group commit publishes its whole batch at once: frames waiting for the event loop
        // say the server is busy, not that the reader is slow.
        try await TestServer.with(configure: { $0.subscriberBufferEvents = 2 }) { server in
            let connection = try RawConnection(port: server.port, timeoutSeconds: 10)
            try connection.send("GET /.eddy/events?path=/burst/ HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
            _ = try await blocking { connection.read(until: ": eddy\n\n") }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<30 {
                    group.addTask { _ = try await server.send(.PUT, "/burst/\(index)", json: #"{"i":\#(index)}"#) }
                }
                try await group.waitForAll()
            }
            let received = try await blocking { connection.read(until: "\"path\":\"/burst/", count: 30) }
            #expect(received.components(separatedBy: "\"path\":\"/burst/").count - 1 == 30, "every event of the burst arrived")
        }
    }

    @Test func eventsOfOneBatchArriveInOrderAsValidChunks() async throws {
        // A group commit's events reach a stream in one drain, gathered into one write: the
        // chunks must still be well formed and the events in sequence order, once each.
        try await TestServer.with { server in
            let connection = try RawConnection(port: server.port, timeoutSeconds: 10)
            try connection.send("GET /.eddy/events?path=/batch/ HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
            let head = try await blocking { connection.read(until: "\r\n\r\n") }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<50 {
                    group.addTask { _ = try await server.send(.PUT, "/batch/\(index % 7)", json: #"{"i":\#(index)}"#) }
                }
                try await group.waitForAll()
            }
            let raw = try await blocking { connection.read(until: "\"path\":\"/batch/", count: 50) }
            let response = head + raw
            let headEnd = try #require(response.range(of: "\r\n\r\n"))
            let body = try Self.dechunk(String(response[headEnd.upperBound...]))
            let ids = body.split(separator: "\n").filter { $0.hasPrefix("id: ") }.compactMap { Checkpoint(token: $0.dropFirst(4))?.sequence }
            #expect(ids.count == 50)
            #expect(ids == ids.sorted() && Set(ids).count == ids.count, "in sequence order, once each: \(ids)")
        }
    }

    /// The body of a chunked response (complete chunks only); throws on a malformed chunk.
    static func dechunk(_ text: String) throws -> String {
        var rest = Substring(text)
        var body = ""
        while let lineEnd = rest.range(of: "\r\n") {
            guard let size = Int(rest[..<lineEnd.lowerBound], radix: 16) else { throw TestFailure("bad chunk size in \(rest.prefix(40))") }
            let start = lineEnd.upperBound
            guard rest.utf8.count >= rest.utf8.distance(from: rest.startIndex, to: start) + size + 2 else { break }
            let end = rest.utf8.index(start, offsetBy: size)
            body += rest[start..<end]
            guard rest[end...].hasPrefix("\r\n") else { throw TestFailure("chunk of \(size) bytes not followed by CRLF") }
            rest = rest[rest.utf8.index(end, offsetBy: 2)...]
        }
        return body
    }

    @Test func aClientThatStopsReadingIsCutOff() async throws {
        try await TestServer.with(configure: { $0.subscriberBufferEvents = 8 }) { server in
            let connection = try RawConnection(port: server.port, timeoutSeconds: 10)
            try connection.send("GET /.eddy/events?path=/flood/ HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
            _ = try await blocking { connection.read(until: ": eddy\n\n") }
            let before = server.server.hub.subscriberCount
            let big = "{\"pad\":\"" + String(repeating: "x", count: 200_000) + "\"}"
            for index in 0..<60 {
                _ = try await server.send(.PUT, "/flood/\(index)", json: big)
                if server.server.hub.subscriberCount < before { break }
            }
            try await Self.eventually { server.server.hub.subscriberCount == before - 1 }
            // What was sent before the cut is still readable; then the connection ends.
            #expect(try await blocking { connection.peerClosed() })
        }
    }

    @Test func shutdownEndsOpenStreamsCleanly() async throws {
        let server = try await TestServer.start()
        let connection = try RawConnection(port: server.port, timeoutSeconds: 10)
        try connection.send("GET /.eddy/events?path=/ HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        _ = try await blocking { connection.read(until: ": eddy\n\n") }
        try await withTimeout(15) { await server.stop() }
        let rest = try await blocking { String(decoding: connection.readUntilClosed(), as: UTF8.self) }
        #expect(rest.hasSuffix("0\r\n\r\n"))
    }

    static func eventually(within seconds: Double = 5, _ condition: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            guard Date() < deadline else { throw TestFailure("condition not met within \(seconds) s") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

extension RawConnection {
    /// Reads until `marker` has arrived `count` times (or the receive timeout passes, or the
    /// connection closes); returns all read so far.
    func read(until marker: String, count: Int = 1) -> String {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while String(decoding: received, as: UTF8.self).components(separatedBy: marker).count - 1 < count {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            received.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: received, as: UTF8.self)
    }
}
