import EddyCore
import EddyServer
import Foundation
import Testing

/// Anonymous registrations count against the caller's address, not against one quota all
/// anonymous callers share (issue 20, finding 9).
@Suite struct RegistrationQuotaTests {
    static func withServer(_ body: (TestServer) async throws -> Void) async throws {
        try await TestServer.with(configure: {
            $0.maximumRegistrationsPerSubject = 2
            $0.allowOutbound = [CIDR("127.0.0.0/8")!]
        }) { server in try await body(server) }
    }

    /// A POST from the loopback address `source`, as another client would send it.
    static func post(_ server: TestServer, from source: String, _ target: String, body: String, type: String) async throws -> RawHTTP.Reply {
        let request =
            "POST \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\nConnection: close\r\nContent-Type: \(type)\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
        let port = server.port
        return try await blocking {
            let connection = try RawConnection(port: port, source: source)
            try connection.send(request)
            return RawHTTP.parse(connection.readUntilClosed())
        }
    }

    @Test func oneAnonymousAddressFillingItsWebhookQuotaLeavesOthersTheirs() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await Self.withServer { server in
            #expect(try await server.send(.PUT, "/hooked", json: "{}").status == 201)
            let target = "/.eddy/value-callbacks/hooked/"
            let type = "application/x-www-form-urlencoded"
            for index in 1...2 {
                let created = try await Self.post(server, from: "127.0.0.1", target, body: CrossSiteTests.form(receiver.url + "/a\(index)"), type: type)
                #expect(created.status == 201, "\(created.body)")
            }
            let full = try await Self.post(server, from: "127.0.0.1", target, body: CrossSiteTests.form(receiver.url + "/a3"), type: type)
            #expect(full.status == 429)
            let other = try await Self.post(server, from: "127.0.0.2", target, body: CrossSiteTests.form(receiver.url + "/b1"), type: type)
            #expect(other.status == 201, "\(other.body)")
        }
    }

    @Test func oneAnonymousAddressFillingItsChannelQuotaLeavesOthersTheirs() async throws {
        try await Self.withServer { server in
            #expect(try await server.send(.PUT, "/watched", json: "{}").status == 201)
            let target = "/.eddy/solid/subscription/EventSourceChannel2023"
            let body = #"{"@context":["https://www.w3.org/ns/solid/notification/v1"],"type":"EventSourceChannel2023","topic":"\#(server.baseURL)/watched"}"#
            let type = "application/ld+json"
            for _ in 1...2 {
                let created = try await Self.post(server, from: "127.0.0.1", target, body: body, type: type)
                #expect(created.status == 200, "\(created.body)")
            }
            #expect(try await Self.post(server, from: "127.0.0.1", target, body: body, type: type).status == 429)
            let other = try await Self.post(server, from: "127.0.0.2", target, body: body, type: type)
            #expect(other.status == 200, "\(other.body)")
        }
    }
}
