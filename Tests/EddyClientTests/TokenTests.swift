import EddyClient
import EddyCore
import EddyServer
import Foundation
import Testing

/// Bearer tokens: every transport sends the token, and a refusal ends the events with its status.
@Suite(.serialized) struct TokenTests {
    static let secret = "a-secret-long-enough-for-hs256-keys-0123456789"

    static func withGuardedServer(_ body: (TestServer) async throws -> Void) async throws {
        let policy = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-client-policy-\(UUID().uuidString).json")
        try Data(#"{"rules":[{"path":"/private/","read":["alice"],"write":"anyone"}]}"#.utf8).write(to: policy)
        defer { try? FileManager.default.removeItem(at: policy) }
        try await TestServer.with(configure: {
            $0.jwtSecret = secret
            $0.policyFile = policy
        }) { server in try await body(server) }
    }

    @Test(arguments: LiveTransport.allCases)
    func aTokenOpensEveryTransport(transport: LiveTransport) async throws {
        try await Self.withGuardedServer { server in
            try await server.send(.PUT, "/private/a", json: "{}")
            let token = try await Authenticator.mint(subject: "alice", secret: Self.secret, lifetime: 600)
            let watch = EventCollector(LiveResource(server.baseURL + "/private/", options: .init(transport: transport, token: token)))
            defer { watch.stop() }
            _ = try await watch.waitFor(1)
            try await server.send(.PUT, "/private/b", json: "{}")
            let events = try await watch.waitFor(2)
            #expect(events.map(\.kind) == [.value(try json(#"[{"id":"a"}]"#)), .childAdded(try json(#"{"id":"b"}"#))])
        }
    }

    @Test func withoutATokenTheRefusalEndsTheEvents() async throws {
        try await Self.withGuardedServer { server in
            try await server.send(.PUT, "/private/a", json: "{}")
            var iterator = LiveResource(server.baseURL + "/private/").makeAsyncIterator()
            do {
                _ = try await iterator.next()
                Issue.record("an anonymous reader got an event")
            } catch let LiveResourceError.status(code, _) {
                #expect(code == 401)
            }
        }
    }
}
