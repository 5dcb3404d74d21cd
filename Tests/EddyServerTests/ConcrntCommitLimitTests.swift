import ConcrntCrypto
import EddyCore
import Foundation
import Testing

@testable import EddyServer

/// Concrnt commits answer to the access policy and the write rate like any other write, and
/// stay bounded (issue 20, finding 8).
@Suite struct ConcrntCommitLimitTests {
    static func withPolicy(_ policy: String, _ body: (TestServer) async throws -> Void) async throws {
        try await TestServer.with(policy: policy, body)
    }

    @Test func aSignatureDoesNotOverrideTheAccessPolicy() async throws {
        try await Self.withPolicy(#"{"rules":[{"path":"/cc/","read":"anyone","write":"nobody"}]}"#) { server in
            let alice = Entity()
            let refused = try await ConcrntTests.commit(server, alice.signed(alice.document(key: "notes/1")))
            #expect(refused.status == 401, "\(refused.body)")
            #expect(refused.header("Content-Type") == "application/problem+json")
            #expect(try await server.send(.GET, "/cc/\(alice.ccid)/notes/1").status == 404)
            let bob = try await Tokens.bearer("bob")
            let forbidden = try await server.send(.POST, Concrnt.commitPath, headers: [bob], json: alice.signed(alice.document(key: "notes/1")))
            #expect(forbidden.status == 403)
        }
    }

    @Test func aCommitWhoseEntryThePolicyRefusesWritesNothing() async throws {
        let alice = Entity()
        let policy = """
            {"rules":[{"path":"/cc/","read":"anyone","write":"anyone"},
            {"path":"/cc/\(alice.ccid)/closed/","read":"anyone","write":"nobody"}]}
            """
        try await Self.withPolicy(policy) { server in
            let memberOf = ["cc://\(alice.ccid)/open", "cc://\(alice.ccid)/closed"]
            let refused = try await ConcrntTests.commit(server, alice.signed(alice.document(key: "notes/1", memberOf: memberOf)))
            #expect(refused.status == 401, "\(refused.body)")
            let uri = try ConcrntURI(ccid: alice.ccid, key: "notes/1")
            #expect(try await server.send(.GET, "/cc/\(alice.ccid)/notes/1").status == 404)
            #expect(try await server.send(.GET, "/cc/\(alice.ccid)/open/" + ConcrntURI.memberID(uri)).status == 404)
            // Without the closed collection the same document goes in, with its entry.
            let accepted = try await ConcrntTests.commit(server, alice.signed(alice.document(key: "notes/1", memberOf: [memberOf[0]])))
            #expect(accepted.status == 201, "\(accepted.body)")
            #expect(try await server.send(.GET, "/cc/\(alice.ccid)/open/" + ConcrntURI.memberID(uri)).status == 200)
        }
    }

    @Test func memberOfIsBounded() async throws {
        try await TestServer.with { server in
            let alice = Entity()
            let tooMany = (0...ConcrntWrites.maximumMemberOf).map { "cc://\(alice.ccid)/list\($0)" }
            let refused = try await ConcrntTests.commit(server, alice.signed(alice.document(key: "busy", memberOf: tooMany)))
            #expect(refused.status == 422, "\(refused.body)")
            #expect(refused.json?["type"] == .string("urn:eddy:problem:too-many-collections"))
            #expect(try await server.send(.GET, "/cc/\(alice.ccid)/busy").status == 404)
            let most = Array(tooMany.dropLast())
            #expect(try await ConcrntTests.commit(server, alice.signed(alice.document(key: "busy", memberOf: most))).status == 201)
            #expect(try await server.send(.GET, "/cc/\(alice.ccid)/list63/").json?.arrayCount == 1)
        }
    }

    @Test func theWriteRateIsChargedPerEntry() async throws {
        try await TestServer.with(configure: {
            $0.writesPerSecond = 0.001
            $0.writeBurst = 10
        }) { server in
            let alice = Entity()
            let five = (1...5).map { "cc://\(alice.ccid)/list\($0)" }
            // The document and five entries: six of the ten writes.
            #expect(try await ConcrntTests.commit(server, alice.signed(alice.document(key: "a", memberOf: five))).status == 201)
            let limited = try await ConcrntTests.commit(server, alice.signed(alice.document(key: "b", memberOf: five)))
            #expect(limited.status == 429, "\(limited.body)")
            #expect(limited.header("Retry-After") != nil)
            #expect(try await server.send(.GET, "/cc/\(alice.ccid)/b").status == 404)
            #expect(try await ConcrntTests.commit(server, alice.signed(alice.document(key: "c"))).status == 201)
        }
    }
}

extension JSONValue {
    fileprivate var arrayCount: Int? {
        if case .array(let items) = self { return items.count }
        return nil
    }
}
