import EddyCore
import Foundation
import Testing

/// Sockets on HTTP/1.1 are served from their pipeline (`WebSocketTakeover`) once set up: these
/// pin down the protocol duties that moved there from hummingbird-websocket.
@Suite struct WebSocketTakeoverTests {
    static func closeCode(_ frame: RawSocket.Frame) -> Int? {
        guard frame.opcode == 0x8, frame.payload.count >= 2 else { return nil }
        return Int(frame.payload[0]) << 8 | Int(frame.payload[1])
    }

    static func subscribed(_ server: TestServer) async throws -> RawConnection {
        let socket = try await blocking { try RawSocket.open(port: server.port, path: "/.eddy/ws", protocol: "liveresource") }
        try socket.sendText(#"{"id":1,"type":"subscribe","uri":"/t/x"}"#)
        #expect(try await blocking { try RawSocket.nextText(socket) } == #"{"id":1,"type":"subscribed"}"#)
        return socket
    }

    /// What an idle socket costs is its pipeline: once set up, the connection's task ends (its
    /// allocator kept the slabs the upgrade grew to, about 12 KiB), and the socket still delivers.
    @Test func anIdleSocketHoldsNoTaskAndStillDelivers() async throws {
        try await TestServer.with { server in
            let before = server.server.connections.connectionTasks
            var sockets: [RawConnection] = []
            for _ in 0..<3 { sockets.append(try await Self.subscribed(server)) }
            try await StreamHandoffTests.eventually { server.server.connections.connectionTasks <= before }
            #expect(try await server.send(.PUT, "/t/x", json: #"{"still":"here"}"#).status == 201)
            for socket in sockets {
                let event = try await blocking { try RawSocket.nextText(socket) }
                #expect(event.contains(#""still":"here""#), "\(event)")
            }
        }
    }

    /// A socket without a task still hears of the server's shutdown, from its pipeline.
    @Test func shutdownClosesAnIdleSocketWith1001() async throws {
        let server = try await TestServer.start()
        let before = server.server.connections.connectionTasks
        let socket = try await Self.subscribed(server)
        try await StreamHandoffTests.eventually { server.server.connections.connectionTasks <= before }
        async let stopped: Void = withTimeout(15) { await server.stop() }
        var frame = try await blocking { try RawSocket.nextFrame(socket) }
        while frame.opcode != 0x8 { frame = try await blocking { try RawSocket.nextFrame(socket) } }
        #expect(Self.closeCode(frame) == 1001)
        // Answered, the close ends the connection at once rather than after the close timeout.
        try socket.sendFrame(opcode: 0x8, payload: [0x03, 0xE9])
        #expect(try await blocking { socket.peerClosed() })
        try await stopped
    }

    @Test func pingsAreAnsweredAndFragmentedMessagesJoined() async throws {
        try await TestServer.with { server in
            let socket = try await Self.subscribed(server)
            try socket.sendFrame(opcode: 0x9, payload: Array("are you there".utf8))
            let pong = try await blocking { try RawSocket.nextFrame(socket) }
            #expect(pong.opcode == 0xA)
            #expect(pong.payload == Array("are you there".utf8))
            let message = Array(#"{"id":2,"type":"subscribe","uri":"/t/y"}"#.utf8)
            try socket.sendFrame(opcode: 0x1, payload: Array(message[..<10]), final: false)
            try socket.sendFrame(opcode: 0x9, payload: [])
            try socket.sendFrame(opcode: 0x0, payload: Array(message[10...]))
            #expect(try await blocking { try RawSocket.nextFrame(socket) }.opcode == 0xA, "a ping between fragments is answered")
            #expect(try await blocking { try RawSocket.nextText(socket) } == #"{"id":2,"type":"subscribed"}"#)
        }
    }

    @Test func aClientsCloseIsEchoedAndReleasesItsSubscriptions() async throws {
        try await TestServer.with { server in
            let before = server.server.hub.subscriberCount
            let socket = try await Self.subscribed(server)
            #expect(server.server.hub.subscriberCount == before + 1)
            try socket.sendFrame(opcode: 0x8, payload: [0x03, 0xE8] + Array("bye".utf8))
            let frames = try await blocking { try RawSocket.framesUntilClosed(socket) }
            #expect(frames.last.flatMap(Self.closeCode) == 1000)
            #expect(try await blocking { socket.peerClosed() })
            try await StreamHandoffTests.eventually { server.server.hub.subscriberCount == before }
        }
    }

    @Test func textThatIsNotUTF8IsRefusedWith1007() async throws {
        try await TestServer.with { server in
            let socket = try await Self.subscribed(server)
            try socket.sendFrame(opcode: 0x1, payload: [0x7B, 0xFF, 0xFE, 0x7D])
            let frames = try await blocking { try RawSocket.framesUntilClosed(socket) }
            #expect(frames.last.flatMap(Self.closeCode) == 1007)
        }
    }

    @Test func aMessageOverTheLimitIsRefusedWith1009() async throws {
        try await TestServer.with(configure: { $0.maximumWebSocketMessageBytes = 1024 }) { server in
            let socket = try await Self.subscribed(server)
            // Each fragment fits; the message they make does not.
            let fragment = Array(repeating: UInt8(ascii: "x"), count: 700)
            try socket.sendFrame(opcode: 0x1, payload: fragment, final: false)
            try socket.sendFrame(opcode: 0x0, payload: fragment)
            let frames = try await blocking { try RawSocket.framesUntilClosed(socket) }
            #expect(frames.last.flatMap(Self.closeCode) == 1009)
        }
    }

    @Test func idleSocketsArePingedAndClosedWhenNoPongComes() async throws {
        try await TestServer.with(configure: { $0.webSocketPingSeconds = 0.3 }) { server in
            let before = server.server.hub.subscriberCount
            let socket = try await Self.subscribed(server)
            let frames = try await blocking { try RawSocket.framesUntilClosed(socket) }
            #expect(frames.first?.opcode == 0x9, "a ping came first")
            #expect(frames.last.flatMap(Self.closeCode) == 1001, "then, with no pong, a close")
            try await StreamHandoffTests.eventually { server.server.hub.subscriberCount == before }
        }
    }

    @Test func aClientThatAnswersPingsStaysConnected() async throws {
        try await TestServer.with(configure: { $0.webSocketPingSeconds = 0.5 }) { server in
            let socket = try await Self.subscribed(server)
            for _ in 0..<3 {
                let ping = try await blocking { try RawSocket.nextFrame(socket) }
                #expect(ping.opcode == 0x9)
                try socket.sendFrame(opcode: 0xA, payload: ping.payload)
            }
            _ = try await server.send(.PUT, "/t/x", json: #"{"still":"here"}"#)
            #expect(try await blocking { try RawSocket.nextText(socket) }.contains(#""still":"here""#))
        }
    }
}
