import AsyncHTTPClient
import EddyCore
import Foundation
import HummingbirdWSClient
import Logging
import Testing

@testable import EddyServer

@Suite struct LimitTests {
    @Test func oversizedHeadersAre431AndOthersAreStillServed() async throws {
        try await TestServer.with(configure: { $0.maximumHeaderBytes = 4096 }) { server in
            let reply = try await server.raw("GET", "/healthz", headers: ["X-Padding: " + String(repeating: "a", count: 8000)])
            #expect(reply.status == 431)
            #expect(reply.head.contains("application/problem+json"))
            #expect(reply.body.contains("headers-too-large"))
            #expect(try await server.raw("GET", "/healthz", headers: ["X-Small: 1"]).status == 200)
        }
    }

    @Test func slowHeadersAreCutOffWithoutStallingOthers() async throws {
        try await TestServer.with(configure: { $0.headerTimeoutSeconds = 1 }) { server in
            let port = server.port
            let started = Date()
            let closedEarly = try await blocking {
                let slow = try RawConnection(port: port, timeoutSeconds: 1)
                try slow.send("GET /healthz HTTP/1.1\r\nHost: x\r\n")
                // Drip a header byte at a time, never finishing the head.
                for _ in 0..<20 {
                    guard (try? slow.send("X")) != nil else { return true }
                    if slow.peerClosed() { return true }
                }
                return false
            }
            #expect(closedEarly)
            #expect(Date().timeIntervalSince(started) < 8)
            #expect(try await server.send(.GET, "/healthz").status == 200)
        }
    }

    @Test func connectionsPerAddressAreCapped() async throws {
        try await TestServer.with(configure: { $0.maximumConnectionsPerAddress = 3 }) { server in
            let port = server.port
            let held = try await blocking { try (0..<3).map { _ in try RawConnection(port: port, source: "127.0.0.7") } }
            // Wait until the server has accepted and counted all three.
            let deadline = ContinuousClock.now + .seconds(10)
            while server.server.connections.openConnections(from: "127.0.0.7") < 3, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(server.server.connections.openConnections(from: "127.0.0.7") == 3)
            let refused = try await blocking {
                let fourth = try RawConnection(port: port, source: "127.0.0.7")
                try fourth.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                return RawHTTP.parse(fourth.readUntilClosed())
            }
            #expect(refused.status == 429)
            #expect(refused.body.contains("too-many-connections"))
            // Another address is unaffected.
            let other = try await blocking {
                let other = try RawConnection(port: port, source: "127.0.0.8")
                try other.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return RawHTTP.parse(other.readUntilClosed())
            }
            #expect(other.status == 200)
            withExtendedLifetime(held) {}
        }
    }

    @Test func writesPerSubjectAreRateLimited() async throws {
        try await TestServer.with(configure: {
            $0.writesPerSecond = 0.5
            $0.writeBurst = 3
        }) { server in
            for index in 0..<3 {
                #expect(try await server.send(.PUT, "/rl/\(index)", json: "{}").status == 201)
            }
            let limited = try await server.send(.PUT, "/rl/x", json: "{}")
            #expect(limited.status == 429)
            #expect(limited.header("Retry-After").flatMap(Int.init).map { $0 >= 1 } == true)
            #expect(limited.json?["type"] == .string("urn:eddy:problem:rate-limited"))
            #expect(try await server.send(.GET, "/rl/x").status == 404)
            // Reads are not limited.
            #expect(try await server.send(.GET, "/rl/0").status == 200)
        }
    }
}

@Suite struct ProtocolLimitTests {
    @Test func oversizedWebSocketMessagesCloseWith1009() async throws {
        try await TestServer.with(configure: { $0.maximumWebSocketMessageBytes = 1024 }) { server in
            var logger = Logger(label: "ws-limit")
            logger.logLevel = .critical
            let close = try await WebSocketClient.connect(url: LiveEndpointsURL.ws(server), logger: logger) { inbound, outbound, _ in
                try await outbound.write(.text(String(repeating: "x", count: 4096)))
                for try await _ in inbound.messages(maxSize: 1 << 16) {}
            }
            #expect(close?.closeCode == .messageTooLarge)
            // Others are still served.
            try await SocketScript.run(LiveEndpointsURL.ws(server)) { send, next in
                try await send(#"{"id":1,"type":"ping"}"#)
                #expect(try await next()["type"] == .string("pong"))
            }
        }
    }

    @Test func registrationsPerSubjectAreCapped() async throws {
        try await TestServer.with(configure: {
            $0.maximumRegistrationsPerSubject = 1
            $0.allowOutbound = [CIDR("127.0.0.0/8")!]
        }) { server in
            _ = try await server.send(.PUT, "/quota", json: "{}")
            let form = "application/x-www-form-urlencoded"
            let first = try await server.send(.POST, "/.eddy/value-callbacks/quota/", json: "callback_uri=http%3A%2F%2F127.0.0.1%3A9%2Fa", contentType: form)
            #expect(first.status == 201)
            // Registering the same callback again is not a new registration.
            #expect(try await server.send(.POST, "/.eddy/value-callbacks/quota/", json: "callback_uri=http%3A%2F%2F127.0.0.1%3A9%2Fa", contentType: form).status == 201)
            let second = try await server.send(.POST, "/.eddy/value-callbacks/quota/", json: "callback_uri=http%3A%2F%2F127.0.0.1%3A9%2Fb", contentType: form)
            #expect(second.status == 429)
            #expect(second.json?["type"] == .string("urn:eddy:problem:too-many-registrations"))
        }
    }

    @Test func multiplexedRequestsAreCapped() async throws {
        try await TestServer.with(configure: { $0.maximumSubscriptionsPerConnection = 2 }) { server in
            let three = try await server.send(.GET, "/.eddy/multi/?u=%2Fa&u=%2Fb&u=%2Fc")
            #expect(three.status == 400)
            #expect(three.json?["type"] == .string("urn:eddy:problem:too-many-resources"))
        }
    }
}
