import AsyncHTTPClient
import EddyCore
import EddyServer
import Foundation
import Testing

/// Cookie-authenticated writes from pages on other sites (issue 20, finding 7).
@Suite struct CrossSiteTests {
    static let policy = """
        {"rules":[{"path":"/private/","read":["alice"],"write":["alice"]}]}
        """

    static func withServer(_ body: (TestServer) async throws -> Void) async throws {
        let file = try Tokens.writePolicy(policy)
        defer { try? FileManager.default.removeItem(at: file) }
        try await TestServer.with(configure: {
            $0.policyFile = file
            $0.jwtSecret = Tokens.secret
            $0.corsOrigins = ["http://trusted.example"]
            $0.allowOutbound = [CIDR("127.0.0.0/8")!]
        }) { server in try await body(server) }
    }

    static func form(_ callback: String) -> String {
        "callback_uri=" + (callback.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? callback)
    }

    @Test func aCrossSiteFormWithTheCookieRegistersNoCallback() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await Self.withServer { server in
            let bearer = try await Tokens.bearer("alice")
            let cookie = ("Cookie", "eddy_token=" + (try await Authenticator.mint(subject: "alice", secret: Tokens.secret, lifetime: 60)))
            #expect(try await server.send(.PUT, "/private/doc", headers: [bearer], json: #"{"secret":1}"#).status == 201)
            let callbacks = server.baseURL + "/.eddy/value-callbacks/private/doc/"
            let formType = "application/x-www-form-urlencoded"

            let refused = try await TestHTTP.send(
                .POST, callbacks, headers: [cookie, ("Origin", "http://evil.example")], body: Self.form(receiver.url + "/evil"),
                contentType: formType)
            #expect(refused.status == 403)
            #expect(refused.header("Content-Type") == "application/problem+json")
            #expect(refused.json?["type"] == .string("urn:eddy:problem:cross-site-request"))
            // Without an Origin (an older browser), a form body is as suspect.
            let noOrigin = try await TestHTTP.send(.POST, callbacks, headers: [cookie], body: Self.form(receiver.url + "/plain"), contentType: "text/plain")
            #expect(noOrigin.status == 403)
            #expect(try await TestHTTP.send(.GET, callbacks, headers: [bearer]).json == .array([]))

            // The same form from the server's own page, or from a configured origin, works.
            let sameOrigin = try await TestHTTP.send(
                .POST, callbacks, headers: [cookie, ("Origin", server.baseURL)], body: Self.form(receiver.url + "/same"), contentType: formType)
            #expect(sameOrigin.status == 201, "\(sameOrigin.body)")
            let trusted = try await TestHTTP.send(
                .POST, callbacks, headers: [cookie, ("Origin", "http://trusted.example")], body: Self.form(receiver.url + "/trusted"),
                contentType: formType)
            #expect(trusted.status == 201, "\(trusted.body)")
            // A bearer header is something no other site's page can attach.
            let withBearer = try await TestHTTP.send(
                .POST, callbacks, headers: [bearer, ("Origin", "http://evil.example")], body: Self.form(receiver.url + "/bearer"),
                contentType: formType)
            #expect(withBearer.status == 201, "\(withBearer.body)")
            // A client that sends no Origin and no form body (a script, curl) keeps using the cookie.
            let json = try await TestHTTP.send(.POST, callbacks, headers: [cookie], body: #"{"callback_uri":"\#(receiver.url)/json"}"#)
            #expect(json.status == 201, "\(json.body)")
        }
    }

    @Test func everyStateChangingSurfaceIsGuarded() async throws {
        try await Self.withServer { server in
            let bearer = try await Tokens.bearer("alice")
            let token = try await Authenticator.mint(subject: "alice", secret: Tokens.secret, lifetime: 60)
            let evil: [(String, String)] = [("Cookie", "eddy_token=\(token)"), ("Origin", "http://evil.example")]
            #expect(try await server.send(.PUT, "/private/doc", headers: [bearer], json: "{}").status == 201)
            #expect(try await server.send(.PUT, "/private/doc", headers: evil, json: #"{"v":1}"#).status == 403)
            #expect(try await server.send(.PATCH, "/private/doc", headers: evil, json: #"{"v":1}"#, contentType: "application/merge-patch+json").status == 403)
            #expect(try await server.send(.POST, "/private/", headers: evil, json: "{}").status == 403)
            #expect(try await server.send(.DELETE, "/private/doc", headers: evil).status == 403)
            let topic = server.baseURL + "/private/doc"
            let channel = #"{"@context":["https://www.w3.org/ns/solid/notification/v1"],"type":"EventSourceChannel2023","topic":"\#(topic)"}"#
            #expect(
                try await server.send(.POST, "/.eddy/solid/subscription/EventSourceChannel2023", headers: evil, json: channel, contentType: "text/plain")
                    .status == 403)
            #expect(try await server.send(.POST, "/.eddy/concrnt/commit", headers: evil, json: "{}").status == 403)
            #expect(try await server.send(.DELETE, "/.eddy/solid/channel/some-channel", headers: evil).status == 403)
            #expect(try await server.send(.DELETE, "/.eddy/value-callbacks/private/doc/http%3A%2F%2Fexample.org", headers: evil).status == 403)
            #expect(try await server.send(.GET, "/private/doc", headers: [bearer]).json == .object([:]))
            // Reads are not writes: the cookie still reads from another origin (CORS guards the answer).
            #expect(try await server.send(.GET, "/private/doc", headers: evil).status == 200)
        }
    }
}
