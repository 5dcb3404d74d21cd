import AsyncHTTPClient
import EddyCore
import EddyServer
import Foundation
import JWTKit
import Testing

/// Identities that Swift's `String ==` takes for equal (canonical equivalence) but whose bytes
/// differ are different subjects and different resources.
@Suite struct UnicodeIdentityTests {
    static let policy = """
        {"rules":[{"path":"/users/{sub}/","read":"owner","write":"owner"},
        {"path":"/team/","read":["Kevin"],"write":["Kevin"]},
        {"path":"/u/","read":"anyone","write":"anyone"}]}
        """

    @Test func aKelvinSignSubjectIsNotKevin() async throws {
        try await TestServer.with(policy: Self.policy) { server in
            let kevin = try await Tokens.bearer("Kevin")
            let kelvin = try await Tokens.bearer("\u{212A}evin")
            #expect(try await server.send(.PUT, "/users/Kevin/doc", headers: [kevin], json: #"{"secret":1}"#).status == 201)
            #expect(try await server.send(.PUT, "/team/plan", headers: [kevin], json: "{}").status == 201)

            #expect(try await server.send(.GET, "/users/Kevin/doc", headers: [kelvin]).status == 403)
            #expect(try await server.send(.PUT, "/users/Kevin/doc", headers: [kelvin], json: "{}").status == 403)
            #expect(try await server.send(.GET, "/team/plan", headers: [kelvin]).status == 403)
            #expect(try await server.send(.PUT, "/team/plan", headers: [kelvin], json: "{}").status == 403)
            // The Kelvin subject owns its own space, spelled with its own bytes.
            #expect(try await server.send(.PUT, "/users/%E2%84%AAevin/doc", headers: [kelvin], json: "{}").status == 201)
            #expect(try await server.send(.GET, "/users/Kevin/doc", headers: [kevin]).body == #"{"secret":1}"#)
        }
    }

    static func withOpenServer(_ configure: @escaping (inout ServerConfiguration) -> Void = { _ in }, _ body: (TestServer) async throws -> Void) async throws {
        let file = try Tokens.writePolicy(Self.policy)
        defer { try? FileManager.default.removeItem(at: file) }
        try await TestServer.with(configure: {
            $0.policyFile = file
            $0.jwtSecret = Tokens.secret
            configure(&$0)
        }) { server in try await body(server) }
    }

    @Test func aKelvinSignSubjectNeitherListsNorDeletesKevinsCallbacks() async throws {
        try await Self.withOpenServer({ $0.allowOutbound = [CIDR("127.0.0.0/8")!] }) { server in
            let kevin = try await Tokens.bearer("Kevin")
            let kelvin = try await Tokens.bearer("\u{212A}evin")
            _ = try await server.send(.PUT, "/u/hooked", headers: [kevin], json: "{}")
            let callbacks = try #require(try await server.send(.GET, "/u/hooked").links["value-callback"])
            let target = "http://127.0.0.1:9/hook"
            let registered = try await TestHTTP.send(.POST, callbacks, headers: [kevin], body: #"{"callback_uri":"\#(target)"}"#)
            #expect(registered.status == 201, "\(registered.body)")
            #expect(try await TestHTTP.send(.GET, callbacks, headers: [kevin]).json?.arrayCount == 1)
            #expect(try await TestHTTP.send(.GET, callbacks, headers: [kelvin]).body == "[]")
            let subscription = callbacks + target.percentEncodedSegment()
            #expect(try await TestHTTP.send(.DELETE, subscription, headers: [kelvin]).status == 403)
            #expect(try await TestHTTP.send(.DELETE, subscription, headers: [kevin]).status == 204)
        }
    }

    @Test func aKelvinSignSubjectHasItsOwnWriteBudget() async throws {
        try await Self.withOpenServer({
            $0.writesPerSecond = 0.001
            $0.writeBurst = 1
        }) { server in
            let kevin = try await Tokens.bearer("Kevin")
            let kelvin = try await Tokens.bearer("\u{212A}evin")
            #expect(try await server.send(.PUT, "/u/a", headers: [kevin], json: "{}").status == 201)
            #expect(try await server.send(.PUT, "/u/b", headers: [kelvin], json: "{}").status == 201)
            #expect(try await server.send(.PUT, "/u/c", headers: [kevin], json: "{}").status == 429)
        }
    }

    @Test func aValueStreamGetsOnlyItsOwnResource() async throws {
        try await TestServer.with { server in
            let composed = "/u/caf%C3%A9"
            let decomposed = "/u/cafe%CC%81"
            _ = try await server.send(.PUT, composed, json: #"{"v":0}"#)
            let streamURL = try #require(try await server.send(.GET, composed).links["value-stream"])
            let event = try await withTimeout(10) {
                var reader = try await SSEReader.open(streamURL)
                #expect(try await server.send(.PUT, decomposed, json: #"{"other":true}"#).status == 201)
                #expect(try await server.send(.PUT, composed, json: #"{"v":1}"#).status == 200)
                return try await reader.next()
            }
            #expect(event?.data == #"{"v":1}"#)
            #expect(try await server.send(.GET, decomposed).body == #"{"other":true}"#)
            #expect(try await server.send(.GET, composed).body == #"{"v":1}"#)
        }
    }
}

extension JSONValue {
    fileprivate var arrayCount: Int? {
        if case .array(let items) = self { return items.count }
        return nil
    }
}

@Suite struct TokenValidityTests {
    /// Claims as any issuer may write them, `nbf` included.
    struct Claims: JWTPayload {
        var sub: SubjectClaim
        var exp: ExpirationClaim
        var nbf: NotBeforeClaim

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    static func token(notBefore: TimeInterval) async throws -> (String, String) {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: Tokens.secret), digestAlgorithm: .sha256)
        let claims = Claims(
            sub: SubjectClaim(value: "alice"), exp: ExpirationClaim(value: Date().addingTimeInterval(7200)),
            nbf: NotBeforeClaim(value: Date().addingTimeInterval(notBefore)))
        return ("Authorization", "Bearer " + (try await keys.sign(claims)))
    }

    @Test func aTokenIsRefusedBeforeItsNotBefore() async throws {
        try await TestServer.with(configure: { $0.jwtSecret = Tokens.secret }) { server in
            let refused = try await server.send(.PUT, "/anything", headers: [try await Self.token(notBefore: 3600)], json: "{}")
            #expect(refused.status == 401)
            #expect(refused.header("Content-Type") == "application/problem+json")
            #expect(refused.json?["detail"] == .string("the token is not valid yet (its nbf is in the future)"))
            #expect(try await server.send(.GET, "/anything", headers: [try await Self.token(notBefore: 3600)]).status == 401)

            #expect(try await server.send(.PUT, "/valid-now", headers: [try await Self.token(notBefore: -60)], json: "{}").status == 201)
        }
    }
}
