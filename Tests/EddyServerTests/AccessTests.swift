import AsyncHTTPClient
import EddyCore
import EddyServer
import Foundation
import JWTKit
import Testing

@Suite struct AccessTests {
    static let policy = """
        {"rules":[{"path":"/public/","read":"anyone","write":"authenticated"},
        {"path":"/users/{sub}/","read":"owner","write":"owner"},
        {"path":"/team/","read":["alice","bob"],"write":["alice"]},
        {"path":"/data/","read":"anyone","write":"anyone"},
        {"path":"/data/secret/","read":["alice"],"write":"anyone"}]}
        """

    static func withGuardedServer(_ body: (TestServer) async throws -> Void) async throws {
        try await TestServer.with(policy: policy, body)
    }

    @Test func restReadsAndWritesFollowThePolicy() async throws {
        try await Self.withGuardedServer { server in
            let alice = try await Tokens.bearer("alice")
            let bob = try await Tokens.bearer("bob")
            let carol = try await Tokens.bearer("carol")
            let expired = try await Tokens.expired("alice")

            // Writes: anonymous 401, a subject without access 403, with access 2xx, expired 401.
            let anonymousWrite = try await server.send(.PUT, "/team/plan", json: "{}")
            #expect(anonymousWrite.status == 401)
            #expect(anonymousWrite.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
            #expect(try await server.send(.PUT, "/team/plan", headers: [bob], json: "{}").status == 403)
            #expect(try await server.send(.PUT, "/team/plan", headers: [alice], json: #"{"v":1}"#).status == 201)
            let expiredWrite = try await server.send(.PUT, "/team/plan", headers: [expired], json: "{}")
            #expect(expiredWrite.status == 401)
            #expect(expiredWrite.json?["type"] == .string("urn:eddy:problem:token-expired"))

            // Reads of the same resource.
            #expect(try await server.send(.GET, "/team/plan").status == 401)
            #expect(try await server.send(.GET, "/team/plan", headers: [carol]).status == 403)
            #expect(try await server.send(.GET, "/team/plan", headers: [bob]).body == #"{"v":1}"#)
            #expect(try await server.send(.GET, "/team/plan", headers: [expired]).status == 401)
            #expect(try await server.send(.GET, "/team/", headers: [carol]).status == 403)

            // Owner rules and public areas.
            #expect(try await server.send(.PUT, "/users/bob/x", headers: [bob], json: "{}").status == 201)
            #expect(try await server.send(.GET, "/users/bob/x", headers: [alice]).status == 403)
            #expect(try await server.send(.PUT, "/public/note", json: "{}").status == 401)
            #expect(try await server.send(.PUT, "/public/note", headers: [carol], json: "{}").status == 201)
            #expect(try await server.send(.GET, "/public/note").status == 200)
            // No rule: no access.
            #expect(try await server.send(.GET, "/unlisted", headers: [alice]).status == 403)
            // A garbage token is refused, not treated as anonymous.
            #expect(try await server.send(.GET, "/public/note", headers: [("Authorization", "Bearer nope")]).status == 401)
        }
    }

    @Test func cookieWorksAndQueryTokensAreRefused() async throws {
        try await Self.withGuardedServer { server in
            let token = try await Authenticator.mint(subject: "alice", secret: Tokens.secret, lifetime: 60)
            #expect(try await server.send(.PUT, "/team/c", headers: [("Cookie", "theme=dark; eddy_token=\(token)")], json: "{}").status == 201)
            let inQuery = try await server.send(.GET, "/team/c?access_token=\(token)")
            #expect(inQuery.status == 400)
            #expect(inQuery.json?["type"] == .string("urn:eddy:problem:token-in-query"))
        }
    }

    @Test func socketsFromOtherOriginsDoNotGetTheCookie() async throws {
        let file = try Tokens.writePolicy(Self.policy)
        defer { try? FileManager.default.removeItem(at: file) }
        try await TestServer.with(configure: {
            $0.policyFile = file
            $0.jwtSecret = Tokens.secret
            $0.corsOrigins = ["http://trusted.example"]
        }) { server in
            let token = try await Authenticator.mint(subject: "alice", secret: Tokens.secret, lifetime: 60)
            let bearer = try await Tokens.bearer("alice")
            let cookie: (String, String) = ("Cookie", "eddy_token=\(token)")
            // (headers, whether the socket acts as alice)
            let cases: [([(String, String)], Bool)] = [
                ([cookie, ("Origin", "http://evil.example")], false),
                ([cookie, ("Origin", "http://127.0.0.1:1")], false),
                ([cookie, ("Origin", "http://trusted.example")], true),
                ([cookie, ("Origin", "http://127.0.0.1:\(server.port)")], true),
                ([cookie], true),
                ([bearer, ("Origin", "http://evil.example")], true),
            ]
            for (headers, actsAsAlice) in cases {
                let socket = try await blocking { try RawSocket.open(port: server.port, path: "/.eddy/ws", protocol: "liveresource", headers: headers) }
                try socket.sendText(#"{"id":1,"type":"subscribe","uri":"/team/plan"}"#)
                let answer = try JSONValue(parsing: try await blocking { try RawSocket.nextText(socket) })
                if actsAsAlice {
                    #expect(answer["type"] == .string("subscribed"), "\(headers): \(answer.text)")
                } else {
                    #expect(answer["type"] == .string("error") && answer["code"] == .int(401), "\(headers): \(answer.text)")
                }
            }
        }
    }

    @Test func eventStreamsAreCheckedWhenTheyStart() async throws {
        try await Self.withGuardedServer { server in
            let alice = try await Tokens.bearer("alice")
            let bob = try await Tokens.bearer("bob")
            let carol = try await Tokens.bearer("carol")
            let expired = try await Tokens.expired("bob")
            let url = "/.eddy/events?path=/team/"
            #expect(try await server.send(.GET, url).status == 401)
            #expect(try await server.send(.GET, url, headers: [carol]).status == 403)
            #expect(try await server.send(.GET, url, headers: [expired]).status == 401)

            let event = try await withTimeout(10) {
                var reader = try await SSEReader.open(server.baseURL + url, headers: [bob])
                #expect(reader.response.status == .ok)
                // Written after the refused attempts: only the allowed subscriber sees it.
                #expect(try await server.send(.PUT, "/team/news", headers: [alice], json: #"{"n":1}"#).status == 201)
                return try await reader.next()
            }
            #expect(event.flatMap { try? JSONValue(parsing: $0.data)["path"] } == .string("/team/news"))
        }
    }

    @Test func subtreeWatchersNeverSeeWhatAStricterRuleHides() async throws {
        try await Self.withGuardedServer { server in
            let alice = try await Tokens.bearer("alice")
            let paths = try await withTimeout(10) {
                var reader = try await SSEReader.open(server.baseURL + "/.eddy/events?path=/data/")
                _ = try await server.send(.PUT, "/data/secret/plan", json: #"{"s":1}"#)
                _ = try await server.send(.PUT, "/data/open", json: #"{"o":1}"#)
                var seen: [String] = []
                while let event = try await reader.next() {
                    if case .string(let path)? = try JSONValue(parsing: event.data)["path"] { seen.append(path) }
                    if seen.last == "/data/open" { break }
                }
                return seen
            }
            #expect(paths == ["/data/open"])
            // Alice may read the secret part, so her subtree stream includes it.
            let alicePaths = try await withTimeout(10) {
                var reader = try await SSEReader.open(server.baseURL + "/.eddy/events?path=/data/&after=0", headers: [alice])
                return [try await reader.next()?.data, try await reader.next()?.data].compactMap { $0 }.count
            }
            #expect(alicePaths == 2)
        }
    }

    @Test func revokedSubscriptionsStopReceivingAfterReload() async throws {
        let file = try Tokens.writePolicy(Self.policy)
        defer { try? FileManager.default.removeItem(at: file) }
        try await TestServer.with(configure: {
            $0.policyFile = file
            $0.jwtSecret = Tokens.secret
        }) { server in
            let alice = try await Tokens.bearer("alice")
            let bob = try await Tokens.bearer("bob")
            let next = try await withTimeout(10) {
                var reader = try await SSEReader.open(server.baseURL + "/.eddy/events?path=/team/", headers: [bob])
                try Self.policy.replacingOccurrences(of: #"["alice","bob"]"#, with: #"["alice"]"#)
                    .write(to: file, atomically: true, encoding: .utf8)
                try server.server.reloadPolicy()
                _ = try await server.send(.PUT, "/team/after-revocation", headers: [alice], json: "{}")
                return try await reader.next()
            }
            #expect(next?.event == "error")
            #expect(next?.data.contains("revoked") == true)
            #expect(try await server.send(.GET, "/team/after-revocation", headers: [bob]).status == 403)
        }
    }

    @Test func refusesToServeOpenlyBeyondLoopback() async throws {
        var configuration = ServerConfiguration()
        configuration.host = "0.0.0.0"
        configuration.dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-never-\(UUID().uuidString)")
        await #expect(throws: ConfigurationError.self) { try await EddyServer(configuration: configuration) }
        #expect(!FileManager.default.fileExists(atPath: configuration.dataDirectory.path))

        let child = try ChildServer(dataDirectory: configuration.dataDirectory, arguments: ["--host", "0.0.0.0"])
        try child.process.run()
        #expect(try await child.waitForExit() != 0)
        #expect(child.output.contains("without an access policy"))
    }
}

@Suite struct JWKSTests {
    @Test func tokensSignedWithAJWKSKeyAreAccepted() async throws {
        let signing = ES256PrivateKey()
        let parameters = try #require(signing.parameters)
        let jwks = #"{"keys":[{"kty":"EC","crv":"P-256","x":"\#(parameters.x)","y":"\#(parameters.y)","kid":"test-key","alg":"ES256","use":"sig"}]}"#
        let jwksFile = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-jwks-\(UUID().uuidString).json")
        try jwks.write(to: jwksFile, atomically: true, encoding: .utf8)
        let policyFile = try Tokens.writePolicy(#"{"rules":[{"path":"/jwks/","read":["dana"],"write":["dana"]}]}"#)
        defer {
            try? FileManager.default.removeItem(at: jwksFile)
            try? FileManager.default.removeItem(at: policyFile)
        }
        let signer = JWTKeyCollection()
        await signer.add(ecdsa: signing, kid: "test-key")
        let token = try await signer.sign(EddyClaims(subject: "dana", expires: Date().addingTimeInterval(600)), kid: "test-key")
        let expired = try await signer.sign(EddyClaims(subject: "dana", expires: Date().addingTimeInterval(-60)), kid: "test-key")
        // Signed by a key the JWKS does not hold.
        let stranger = JWTKeyCollection()
        await stranger.add(ecdsa: ES256PrivateKey(), kid: "test-key")
        let forged = try await stranger.sign(EddyClaims(subject: "dana", expires: Date().addingTimeInterval(600)), kid: "test-key")

        try await TestServer.with(configure: {
            $0.jwksFile = jwksFile
            $0.policyFile = policyFile
        }) { server in
            let accepted = try await server.send(.PUT, "/jwks/a", headers: [("Authorization", "Bearer \(token)")], json: "{}")
            let late = try await server.send(.GET, "/jwks/a", headers: [("Authorization", "Bearer \(expired)")])
            let unknownKey = try await server.send(.GET, "/jwks/a", headers: [("Authorization", "Bearer \(forged)")])
            let anonymous = try await server.send(.GET, "/jwks/a")
            #expect(accepted.status == 201)
            #expect(late.status == 401)
            #expect(unknownKey.status == 401)
            #expect(anonymous.status == 401)
        }
    }
}

@Suite struct HiddenChangesTests {
    @Test func changesAReaderMayNotSeeDoNotHoldItsCheckpointBack() async throws {
        let file = try Tokens.writePolicy(
            #"{"rules":[{"path":"/data/","read":"anyone","write":"anyone"},{"path":"/data/hidden","read":["alice"],"write":"anyone"}]}"#)
        defer { try? FileManager.default.removeItem(at: file) }
        try await TestServer.with(configure: {
            $0.policyFile = file
            $0.jwtSecret = Tokens.secret
        }) { server in
            _ = try await server.send(.PUT, "/data/first", json: "{}")
            let start = try #require(try await server.send(.GET, "/data/?max=1").links["changes"])
            _ = try await server.send(.PUT, "/data/hidden", json: #"{"secret":1}"#)
            _ = try await server.send(.PUT, "/data/open", json: #"{"open":1}"#)
            // A page of one holds only the hidden change: empty, but the checkpoint moves on.
            let hidden = try await TestHTTP.send(.GET, start)
            #expect(hidden.body == "[]")
            let next = try #require(hidden.links["changes"])
            #expect(next != start)
            let visible = try await TestHTTP.send(.GET, next)
            #expect(visible.json == (try JSONValue(parsing: #"[{"id":"open","open":1}]"#)))
        }
    }
}
