import Foundation
import NIOHTTP1
import Testing

@testable import EddyServer

#if canImport(Glibc)
import Glibc
#endif

/// Clients that send what HTTP/1.1 cannot parse, or trickle what it can, must be answered or
/// cut off at once, and must not hold the connection slots of their address (issue 20, finding 3).
@Suite struct HostileConnectionTests {
    /// First requests that no HTTP layer answered: each used to hold its connection open.
    static let malformedFirstRequests: [(name: String, bytes: [UInt8])] = [
        ("unknown method", Array("FOO / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)),
        (
            "Content-Length with Transfer-Encoding",
            Array("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".utf8)
        ),
        ("40 KB head", Array(("GET / HTTP/1.1\r\nHost: x\r\nX-Padding: " + String(repeating: "a", count: 40_000) + "\r\n\r\n").utf8)),
        // The start of a TLS ClientHello, on the plain port.
        ("TLS handshake", [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03] + Array(repeating: 0x2A, count: 32)),
    ]

    @Test(arguments: 0..<malformedFirstRequests.count)
    func aMalformedFirstRequestIsAnsweredAtOnce(index: Int) async throws {
        let (name, bytes) = Self.malformedFirstRequests[index]
        try await TestServer.with { server in
            let port = server.port
            let started = ContinuousClock.now
            let (reply, closed) = try await blocking {
                let connection = try RawConnection(port: port, timeoutSeconds: 5)
                // The server may answer and close before it has read everything.
                try? connection.sendBytes(bytes)
                return connection.replyAndWhetherClosed()
            }
            #expect(closed, "\(name): the connection is closed")
            #expect(ContinuousClock.now - started < .seconds(4), "\(name): at once, not after a timeout")
            #expect([0, 400, 431].contains(reply.status), "\(name): \(reply.head)")
            if reply.status != 0 {
                #expect(reply.head.contains("application/problem+json"), "\(name)")
            }
        }
    }

    @Test func malformedFirstRequestsDoNotLockTheirAddressOut() async throws {
        try await TestServer.with(configure: { $0.maximumConnectionsPerAddress = 10 }) { server in
            let port = server.port
            let requests = Self.malformedFirstRequests.map(\.bytes)
            // The client keeps every connection open: only the server can free the slots.
            let held = try await blocking {
                try (0..<200).map { index in
                    let connection = try RawConnection(port: port, source: "127.0.0.23", timeoutSeconds: 5)
                    try? connection.sendBytes(requests[index % requests.count])
                    return connection
                }
            }
            // Every connection answered and closed by the server, not merely none counted yet: one
            // still waiting in the kernel's accept queue would take a slot after the count read 0.
            let closedByServer = try await blocking { held.filter { $0.peerClosed() }.count }
            #expect(closedByServer == held.count)
            try await StreamHandoffTests.eventually(within: 10) { server.server.connections.openConnections(from: "127.0.0.23") == 0 }
            let reply = try await blocking {
                let connection = try RawConnection(port: port, source: "127.0.0.23")
                try connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return RawHTTP.parse(connection.readUntilClosed())
            }
            #expect(reply.status == 200)
            withExtendedLifetime(held) {}
        }
    }

    /// Finding 9: the idle timeout counts silence only, and a trickled body is never silent.
    @Test func aBodyTrickledByteByByteGets408() async throws {
        try await TestServer.with(configure: { $0.bodyTimeoutSeconds = 1 }) { server in
            let port = server.port
            let started = ContinuousClock.now
            let reply = try await blocking { () -> RawHTTP.Reply in
                let connection = try RawConnection(port: port, timeoutSeconds: 10)
                try connection.send("PUT /slow/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n")
                // A byte every 300 ms: 40 of them would take 12 s.
                for _ in 0..<40 {
                    if connection.readable(withinMilliseconds: 300) { break }
                    guard (try? connection.send("x")) != nil else { break }
                }
                return RawHTTP.parse(connection.readUntilClosed())
            }
            #expect(reply.status == 408, "\(reply.head)")
            #expect(reply.body.contains("urn:eddy:problem:body-timeout"))
            #expect(ContinuousClock.now - started < .seconds(6))
            #expect(try await server.send(.PUT, "/slow/y", json: #"{"in":"time"}"#).status == 201)
        }
    }

    // MARK: Without sockets

    @Test func parserErrorsBeforeTheFirstRequestIsDecidedAreRefused() {
        let unknownMethod = FirstRequestOutcome.after(.error(HTTPParserError.invalidMethod), maximumHeaderBytes: 1024)
        guard case .refuse(let summary) = unknownMethod else {
            Issue.record("\(unknownMethod)")
            return
        }
        #expect(summary.status.code == 400)
        let ambiguousLength = FirstRequestOutcome.after(.error(HTTPParserError.unexpectedContentLength), maximumHeaderBytes: 1024)
        guard case .refuse(let summary) = ambiguousLength else {
            Issue.record("\(ambiguousLength)")
            return
        }
        #expect(summary.status.code == 400)
        let tooLarge = FirstRequestOutcome.after(.error(HTTPParserError.headerOverflow), maximumHeaderBytes: 1024)
        guard case .refuse(let summary) = tooLarge else {
            Issue.record("\(tooLarge)")
            return
        }
        #expect(summary.status.code == 431)
        #expect(summary.detail.contains("1024"))
        // A declined upgrade is reported as an error too, and the request goes on as plain HTTP.
        #expect(FirstRequestOutcome.after(.error(ChannelErrorForTest()), maximumHeaderBytes: 1024) == .undecided)
        #expect(FirstRequestOutcome.after(.upgraded, maximumHeaderBytes: 1024) == .takeOverWebSocket)
        #expect(FirstRequestOutcome.after(.requestPartRead, maximumHeaderBytes: 1024) == .handOver)
    }

    struct ChannelErrorForTest: Error {}
}

extension RawConnection {
    func sendBytes(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let written = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw RawHTTP.RawHTTPError.write(errno) }
            sent += written
        }
    }

    /// Reads what the server answers, and whether it then closed (rather than the receive
    /// timeout passing with the connection still open).
    func replyAndWhetherClosed() -> (RawHTTP.Reply, Bool) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count > 0 {
                received.append(contentsOf: buffer[0..<count])
                continue
            }
            let closed = count == 0 || errno == ECONNRESET
            return (RawHTTP.parse(received), closed)
        }
    }

    /// Whether the server has sent something (or closed) within the time.
    func readable(withinMilliseconds milliseconds: Int32) -> Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, milliseconds) > 0
    }
}
