import Foundation
import Testing

@testable import EddyServer

#if canImport(Glibc)
import Glibc
#endif

/// WebSocket clients that flood the server with control frames, or break RFC 6455 §5, from the
/// first frame on (issue 20, finding 4 and the WebSocket part of finding 9).
@Suite struct HostileWebSocketTests {
    static let subscribe = Array(#"{"id":1,"type":"subscribe","uri":"/t/x"}"#.utf8)
    static let subscribed = #"{"id":1,"type":"subscribed"}"#

    static func subprotocol(for path: String) -> String? {
        path == LiveEndpoints.multiplexSocket ? "liveresource" : nil
    }

    /// The pongs wait in the server's outbound buffer; a client that never reads them must be
    /// cut off when that buffer is full, as one that does not read its messages, rather than
    /// growing the server's memory with every ping.
    @Test(arguments: [LiveEndpoints.multiplexSocket, Concrnt.realtimePath, "Solid WebSocketChannel2023"])
    func pingsWhosePongsAreNeverReadCloseTheSocket(surface: String) async throws {
        try await TestServer.with { server in
            let port = server.port
            let path = surface.hasPrefix("/") ? surface : try await Self.solidSocketPath(server)
            let source = "127.0.0.31"
            let socket = try await blocking {
                try HostileSocket.open(port: port, path: path, protocol: Self.subprotocol(for: path), source: source)
            }
            #expect(server.server.connections.openConnections(from: source) == 1)
            let sentAll = try await blocking { () -> Bool in
                socket.setSendTimeout(seconds: 10)
                let ping = HostileSocket.frame(opcode: 0x9, payload: Array(repeating: 0x2A, count: 125))
                let hundredPings = Array(Array(repeating: ping, count: 100).joined())
                // 200,000 pings, 25 MB of pongs: far more than the kernel's and the server's buffers.
                for _ in 0..<2000 {
                    guard (try? socket.sendBytes(hundredPings)) != nil else { return false }
                }
                return true
            }
            // The server closed the socket, which frees its slot and whatever it had queued.
            try await StreamHandoffTests.eventually(within: 15) { server.server.connections.openConnections(from: source) == 0 }
            #expect(!sentAll, "the server stopped taking pings")
            withExtendedLifetime(socket) {}
        }
    }

    /// The first fragment comes with the upgrade request, the last once the socket is served
    /// from its pipeline: both halves must meet in one place.
    /// The path of a new Solid WebSocket channel's socket.
    static func solidSocketPath(_ server: TestServer) async throws -> String {
        _ = try await server.send(.PUT, "/notes/flooded", json: #"{"v":0}"#)
        let topic = server.baseURL + "/notes/flooded"
        let service = try await SolidTests.discoverService(topic, type: "WebSocketChannel2023")
        let channel = try #require(try await SolidTests.subscribe(service, type: "WebSocketChannel2023", topic: topic).json)
        guard case .string(let url)? = channel["receiveFrom"], let components = URLComponents(string: url) else {
            throw TestFailure("no receiveFrom in \(channel)")
        }
        return components.percentEncodedPath + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
    }

    @Test func aMessageFragmentedAcrossTheTakeoverIsJoined() async throws {
        try await TestServer.with { server in
            let port = server.port
            let before = server.server.connections.connectionTasks
            let first = HostileSocket.frame(opcode: 0x1, payload: Array(Self.subscribe[..<10]), fin: false)
            let socket = try await blocking {
                try HostileSocket.open(port: port, path: LiveEndpoints.multiplexSocket, protocol: "liveresource", sendingWithUpgrade: first)
            }
            // The socket's task ends once the socket is served from its pipeline.
            try await StreamHandoffTests.eventually { server.server.connections.connectionTasks <= before }
            let reply = try await blocking { () -> String in
                try socket.sendBytes(HostileSocket.frame(opcode: 0x0, payload: Array(Self.subscribe[10...])))
                return try RawSocket.nextText(socket)
            }
            #expect(reply == Self.subscribed)
        }
    }

    /// A declined upgrade is reported through the pipeline as an error, and must still be answered.
    @Test func aDeclinedUpgradeIsAnswered() async throws {
        try await TestServer.with { server in
            let port = server.port
            let reply = try await blocking { () -> RawHTTP.Reply in
                let connection = try RawConnection(port: port, timeoutSeconds: 5)
                try connection.send(
                    "GET /.eddy/no-such-socket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
                return RawHTTP.parse(connection.readUntilClosed())
            }
            #expect(reply.status == 400, "\(reply.head)")
        }
    }

    /// RFC 6455 §5.1–5.2: the server fails the connection (1002) on each of these.
    static let violations: [(name: String, frame: [UInt8])] = [
        ("unmasked", HostileSocket.frame(opcode: 0x1, payload: subscribe, masked: false)),
        ("reserved bit", HostileSocket.frame(opcode: 0x1, payload: subscribe, reservedBits: 0x40)),
        ("unknown opcode", HostileSocket.frame(opcode: 0x3, payload: subscribe)),
    ]

    @Test(arguments: 0..<violations.count, [true, false])
    func aFrameBreakingRFC6455IsClosedWith1002(index: Int, withUpgrade: Bool) async throws {
        let (name, frame) = Self.violations[index]
        try await TestServer.with { server in
            let port = server.port
            let frames = try await blocking { () -> [RawSocket.Frame] in
                let socket: RawConnection
                if withUpgrade {
                    socket = try HostileSocket.open(port: port, path: LiveEndpoints.multiplexSocket, protocol: "liveresource", sendingWithUpgrade: frame)
                } else {
                    socket = try HostileSocket.open(port: port, path: LiveEndpoints.multiplexSocket, protocol: "liveresource")
                    try socket.sendFrame(opcode: 0x1, payload: Self.subscribe)
                    guard try RawSocket.nextText(socket) == Self.subscribed else { throw TestFailure("no ack") }
                    try socket.sendBytes(frame)
                }
                return try RawSocket.framesUntilClosed(socket)
            }
            #expect(frames.last.flatMap(WebSocketTakeoverTests.closeCode) == 1002, "\(name), with the upgrade: \(withUpgrade)")
            #expect(!frames.contains { $0.opcode == 0x1 }, "\(name): nothing was served")
        }
    }

}

/// Client frames built byte by byte, rules broken on purpose where asked.
enum HostileSocket {
    /// Opens a socket on `path`; `frames` go out in the same packet as the upgrade request.
    static func open(
        port: Int, path: String, protocol subprotocol: String?, source: String? = nil, sendingWithUpgrade frames: [UInt8] = []
    ) throws -> RawConnection {
        let connection = try RawConnection(port: port, source: source, timeoutSeconds: 5)
        let request =
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            + (subprotocol.map { "Sec-WebSocket-Protocol: \($0)\r\n" } ?? "") + "\r\n"
        try connection.sendBytes(Array(request.utf8) + frames)
        var head: [UInt8] = []
        while head.count < 4 || Array(head.suffix(4)) != Array("\r\n\r\n".utf8) {
            head.append(try connection.readByte())
        }
        guard String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 101") else {
            throw TestFailure("no upgrade: \(String(decoding: head, as: UTF8.self))")
        }
        return connection
    }

    static func frame(opcode: UInt8, payload: [UInt8], fin: Bool = true, reservedBits: UInt8 = 0, masked: Bool = true) -> [UInt8] {
        var frame: [UInt8] = [(fin ? 0x80 : 0) | reservedBits | opcode]
        let maskBit: UInt8 = masked ? 0x80 : 0
        if payload.count < 126 {
            frame.append(maskBit | UInt8(payload.count))
        } else {
            frame.append(maskBit | 126)
            frame.append(contentsOf: [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)])
        }
        guard masked else { return frame + payload }
        let mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
        frame.append(contentsOf: mask)
        frame.append(contentsOf: payload.enumerated().map { $0.element ^ mask[$0.offset & 3] })
        return frame
    }
}

extension RawConnection {
    func setSendTimeout(seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }
}
