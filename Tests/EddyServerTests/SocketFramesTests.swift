import EddyCore
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// WebSocket messages on HTTP/1.1 connections are written as ready-made frames by the
/// connection's pipeline, beside the socket's own frames. These pin down what that path must
/// keep: order, the acknowledgement before the events, and closing a socket that does not read.
@Suite struct SocketFramesTests {
    @Test func manySocketsGetEveryEventOnceInOrderAfterTheirAck() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/order", json: #"{"n":-1}"#)
            var sockets: [RawConnection] = []
            for _ in 0..<20 {
                let socket = try await blocking { try RawSocket.open(port: server.port, path: "/.eddy/ws", protocol: "liveresource") }
                try socket.sendText(#"{"id":7,"type":"subscribe","uri":"/order"}"#)
                sockets.append(socket)
            }
            for socket in sockets {
                let ack = try await blocking { try RawSocket.nextText(socket) }
                #expect(ack == #"{"id":7,"type":"subscribed"}"#)
            }
            for n in 0..<40 { _ = try await server.send(.PUT, "/order", json: #"{"n":\#(n)}"#) }
            for socket in sockets {
                let received = try await blocking { try (0..<40).map { _ in try RawSocket.nextText(socket) } }
                let numbers = try received.map { text -> Int in
                    guard case .int(let n)? = try JSONValue(parsing: text)["body"]?["n"] else { throw TestFailure("no body.n in \(text)") }
                    return Int(n)
                }
                #expect(numbers == Array(0..<40))
            }
        }
    }

    @Test func aSocketThatStopsReadingIsClosedWithPolicyViolation() async throws {
        try await TestServer.with(configure: { $0.subscriberBufferEvents = 8 }) { server in
            let socket = try await blocking { try RawSocket.open(port: server.port, path: "/.eddy/ws", protocol: "liveresource") }
            try socket.sendText(#"{"id":1,"type":"subscribe","uri":"/flood"}"#)
            #expect(try await blocking { try RawSocket.nextText(socket) } == #"{"id":1,"type":"subscribed"}"#)
            let before = server.server.hub.subscriberCount
            let big = "{\"pad\":\"" + String(repeating: "x", count: 200_000) + "\"}"
            for _ in 0..<60 {
                _ = try await server.send(.PUT, "/flood", json: big)
                if server.server.hub.subscriberCount < before { break }
            }
            try await StreamHandoffTests.eventually { server.server.hub.subscriberCount == before - 1 }
            // Everything written before the cut is readable, then a close frame saying why.
            let frames = try await blocking { try RawSocket.framesUntilClosed(socket) }
            let close = try #require(frames.last)
            #expect(close.opcode == 0x8)
            #expect(close.payload.count >= 2 && Int(close.payload[0]) << 8 | Int(close.payload[1]) == 1008)
            #expect(frames.dropLast().allSatisfy { $0.opcode == 0x1 })
        }
    }
}

/// A client WebSocket over a raw TCP connection, to see the frames exactly as sent.
enum RawSocket {
    /// Blocks on the socket: call it through `blocking`.
    static func open(port: Int, path: String, protocol subprotocol: String, headers: [(String, String)] = []) throws -> RawConnection {
        let connection = try RawConnection(port: port, timeoutSeconds: 10)
        try connection.send(
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: \(subprotocol)\r\n"
                + headers.map { "\($0.0): \($0.1)\r\n" }.joined() + "\r\n")
        var head: [UInt8] = []
        while !head.ends(with: Array("\r\n\r\n".utf8)) {
            head.append(try connection.readByte())
        }
        guard String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 101") else {
            throw TestFailure("no upgrade: \(String(decoding: head, as: UTF8.self))")
        }
        return connection
    }

    struct Frame {
        let opcode: UInt8
        let payload: [UInt8]
    }

    static func nextFrame(_ connection: RawConnection) throws -> Frame {
        let first = try connection.readByte()
        var length = Int(try connection.readByte() & 0x7F)
        if length == 126 {
            length = Int(try connection.readBytes(2).reduce(0) { $0 << 8 | UInt64($1) })
        } else if length == 127 {
            length = Int(try connection.readBytes(8).reduce(0) { $0 << 8 | UInt64($1) })
        }
        return Frame(opcode: first & 0x0F, payload: try connection.readBytes(length))
    }

    static func nextText(_ connection: RawConnection) throws -> String {
        while true {
            let frame = try nextFrame(connection)
            if frame.opcode == 0x1 { return String(decoding: frame.payload, as: UTF8.self) }
            guard frame.opcode == 0x9 || frame.opcode == 0xA else { throw TestFailure("unexpected frame \(frame.opcode)") }
        }
    }

    /// Every frame until a close frame (included) or the end of the connection.
    static func framesUntilClosed(_ connection: RawConnection) throws -> [Frame] {
        var frames: [Frame] = []
        while let frame = try? nextFrame(connection) {
            frames.append(frame)
            if frame.opcode == 0x8 { break }
        }
        return frames
    }
}

extension RawConnection {
    /// Sends one masked text frame, as a client must.
    func sendText(_ text: String) throws {
        try sendFrame(opcode: 0x1, payload: Array(text.utf8))
    }

    /// Sends one masked frame; `final` false leaves the message open for continuations.
    func sendFrame(opcode: UInt8, payload: [UInt8], final: Bool = true) throws {
        var frame: [UInt8] = [(final ? 0x80 : 0) | opcode]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else {
            frame.append(0x80 | 126)
            frame.append(contentsOf: [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)])
        }
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        frame.append(contentsOf: mask)
        frame.append(contentsOf: payload.enumerated().map { $0.element ^ mask[$0.offset & 3] })
        var sent = 0
        while sent < frame.count {
            let written = frame[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw RawHTTP.RawHTTPError.write(errno) }
            sent += written
        }
    }

    func readByte() throws -> UInt8 {
        try readBytes(1)[0]
    }

    func readBytes(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let read = bytes[filled...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard read > 0 else { throw TestFailure("connection ended after \(filled) of \(count) bytes") }
            filled += read
        }
        return bytes
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}
