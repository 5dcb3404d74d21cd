import EddyCore
import EddyServer
import Foundation
import HTTPTypes
import Testing

/// Solid's legacy `solid-0.1` socket, as SolidOS and rdflib.js use it: found only through the
/// `Updates-Via` header of a resource response, `sub` answered with `ack`, `pub` for every
/// change of the resource and of a watched container's children, `error` for what it refuses.
@Suite struct LegacySocketTests {
    /// A client that knows nothing but a resource's URL, as rdflib's update manager does.
    @Test func aClientThatKnowsOnlyAResourceFindsTheSocketAndIsToldOfEveryChange() async throws {
        try await TestServer.with { server in
            #expect(try await server.send(.PUT, "/notes/a", json: #"{"v":1}"#).status == 201)
            let resource = server.baseURL + "/notes/a"
            let container = server.baseURL + "/notes/"
            let socket = try #require(try await TestHTTP.send(.GET, resource).header("Updates-Via"))
            #expect(socket.hasPrefix("ws://"))
            try await SocketScript.runText(socket, subprotocol: "solid-0.1") { send, next in
                #expect(try await next() == "protocol solid-0.1")
                try await send("sub \(resource)")
                #expect(try await next() == "ack \(resource)")
                try await send("sub \(container)")
                #expect(try await next() == "ack \(container)")
                try await send("sub /marker")
                #expect(try await next() == "ack \(server.baseURL)/marker")

                #expect(try await server.send(.PUT, "/notes/a", json: #"{"v":2}"#).status == 200)
                #expect(Set([try await next(), try await next()]) == ["pub \(resource)", "pub \(container)"])
                #expect(try await server.send(.PUT, "/notes/b", json: #"{"v":1}"#).status == 201)
                #expect(try await next() == "pub \(container)")
                #expect(try await server.send(.POST, "/notes/", json: #"{"v":1}"#).status == 201)
                #expect(try await next() == "pub \(container)")
                // A grandchild is not a child: the container's own listing did not change.
                #expect(try await server.send(.PUT, "/notes/deeper/c", json: #"{"v":1}"#).status == 201)
                #expect(try await server.send(.PUT, "/marker", json: #"{"v":1}"#).status == 201)
                #expect(try await next() == "pub \(server.baseURL)/marker")
                #expect(try await server.send(.DELETE, "/notes/a").status == 204)
                #expect(Set([try await next(), try await next()]) == ["pub \(resource)", "pub \(container)"])
            }
        }
    }

    @Test func everyResourceAnswerAndOPTIONSNamesTheSocket() async throws {
        try await TestServer.with { server in
            let expected = server.baseURL.replacingOccurrences(of: "http://", with: "ws://") + "/.eddy/solid-0.1"
            let created = try await server.send(.PUT, "/docs/a", json: #"{"v":1}"#)
            let etag = try #require(created.header("ETag"))
            let answers: [(String, TestResponse)] = [
                ("PUT", created),
                ("GET", try await server.send(.GET, "/docs/a")),
                ("HEAD", try await server.send(.HEAD, "/docs/a")),
                ("304", try await server.send(.GET, "/docs/a", headers: [("If-None-Match", etag)])),
                ("GET collection", try await server.send(.GET, "/docs/")),
                ("POST", try await server.send(.POST, "/docs/", json: "{}")),
                ("PATCH", try await server.send(.PATCH, "/docs/a", json: #"{"w":2}"#)),
                ("404", try await server.send(.GET, "/docs/missing")),
                ("412", try await server.send(.PUT, "/docs/a", headers: [("If-Match", "\"stale\"")], json: "{}")),
                ("DELETE", try await server.send(.DELETE, "/docs/a")),
            ]
            for (what, answer) in answers {
                #expect(answer.header("Updates-Via") == expected, "\(what) answered \(answer.status) without Updates-Via")
            }
            for (path, allow) in [("/docs/a", "GET, HEAD, OPTIONS, PUT, PATCH, DELETE"), ("/docs/", "GET, HEAD, OPTIONS, POST"), ("/", "GET, HEAD, OPTIONS, POST")] {
                let options = try await server.send(.OPTIONS, path)
                #expect(options.status == 204, "OPTIONS \(path)")
                #expect(options.header("Allow") == allow, "OPTIONS \(path)")
                #expect(options.header("Updates-Via") == expected, "OPTIONS \(path)")
            }
            // A page on another origin may read the header.
            let crossOrigin = try await server.send(.GET, "/docs/", headers: [("Origin", "http://page.example")])
            #expect(crossOrigin.header("Access-Control-Expose-Headers")?.contains("Updates-Via") == true)
            // The socket's own URL, asked without an upgrade, says what it is.
            #expect(try await server.send(.GET, "/.eddy/solid-0.1").status == 426)
        }
    }

    @Test func aClientThatOffersNoSubprotocolIsWarnedAndServed() async throws {
        try await TestServer.with { server in
            let socket = server.baseURL.replacingOccurrences(of: "http://", with: "ws://") + "/.eddy/solid-0.1"
            try await SocketScript.runText(socket, subprotocol: nil) { send, next in
                #expect(try await next() == "protocol solid-0.1")
                #expect(try await next() == "warning Missing Sec-WebSocket-Protocol header, expected value 'solid-0.1'")
                // Host-relative, answered with the absolute URI.
                try await send("sub /x")
                #expect(try await next() == "ack \(server.baseURL)/x")
                #expect(try await server.send(.PUT, "/x", json: "{}").status == 201)
                #expect(try await next() == "pub \(server.baseURL)/x")
            }
        }
    }

    /// A line that is not a well-formed `sub` for this server, and a resource the socket's
    /// identity may not read, get an `error` line and no subscription.
    @Test func whatTheSocketRefusesGetsAnErrorAndNoSubscription() async throws {
        let policy = #"{"rules":[{"path":"/","read":"anyone","write":"anyone"},{"path":"/private/","read":["alice"],"write":"anyone"}]}"#
        try await TestServer.with(policy: policy) { server in
            let socket = server.baseURL.replacingOccurrences(of: "http://", with: "ws://") + "/.eddy/solid-0.1"
            let before = server.server.hub.subscriberCount
            try await SocketScript.runText(socket, subprotocol: "solid-0.1") { send, next in
                #expect(try await next() == "protocol solid-0.1")
                for line in [
                    "sub http://elsewhere.example/a", "subscribe /a", "sub", "sub /a//b", "sub \(server.baseURL)/private/doc",
                    "sub \(server.baseURL)/private/",
                ] {
                    try await send(line)
                    let answer = try await next()
                    #expect(answer.hasPrefix("error "), "\(line) was answered \(answer)")
                }
                #expect(server.server.hub.subscriberCount == before)
                // Several lines in one message are several commands.
                try await send("sub /open\nsub /private/doc\r\n")
                #expect(try await next() == "ack \(server.baseURL)/open")
                #expect(try await next().hasPrefix("error \(server.baseURL)/private/doc"))
                #expect(try await server.send(.PUT, "/private/doc", json: "{}").status == 201)
                #expect(try await server.send(.PUT, "/open", json: "{}").status == 201)
                #expect(try await next() == "pub \(server.baseURL)/open")
            }
        }
    }

    /// With a token, the socket reads as its subject.
    @Test func aSocketOpenedWithATokenReadsAsItsSubject() async throws {
        let policy = #"{"rules":[{"path":"/private/","read":["alice"],"write":"anyone"}]}"#
        try await TestServer.with(policy: policy) { server in
            let socket = server.baseURL.replacingOccurrences(of: "http://", with: "ws://") + "/.eddy/solid-0.1"
            var headers = HTTPFields()
            headers[.authorization] = try await Tokens.bearer("alice").1
            try await SocketScript.runText(socket, subprotocol: "solid-0.1", headers: headers) { send, next in
                #expect(try await next() == "protocol solid-0.1")
                try await send("sub /private/doc")
                #expect(try await next() == "ack \(server.baseURL)/private/doc")
            }
        }
    }

    @Test func aSocketHoldsAtMostItsSubscriptionLimitAndASecondSubIsNotASecondSubscription() async throws {
        try await TestServer.with(configure: { $0.maximumSubscriptionsPerConnection = 2 }) { server in
            let socket = server.baseURL.replacingOccurrences(of: "http://", with: "ws://") + "/.eddy/solid-0.1"
            let before = server.server.hub.subscriberCount
            try await SocketScript.runText(socket, subprotocol: "solid-0.1") { send, next in
                #expect(try await next() == "protocol solid-0.1")
                for path in ["/a", "/b", "/a"] {
                    try await send("sub \(path)")
                    #expect(try await next() == "ack \(server.baseURL)\(path)")
                }
                try await send("sub /c")
                #expect(try await next().contains("2 subscriptions"))
                #expect(server.server.hub.subscriberCount == before + 2)
                #expect(try await server.send(.PUT, "/a", json: "{}").status == 201)
                #expect(try await next() == "pub \(server.baseURL)/a")
            }
            try await server.waitForSubscribers(atMost: before)
        }
    }

    /// A container's watcher is not told of a child that a stricter rule hides from it.
    @Test func aHiddenChildIsNotPublished() async throws {
        try await TestServer.with(policy: UniformAdmissionTests.policy) { server in
            let socket = server.baseURL.replacingOccurrences(of: "http://", with: "ws://") + "/.eddy/solid-0.1"
            try await SocketScript.runText(socket, subprotocol: "solid-0.1") { send, next in
                #expect(try await next() == "protocol solid-0.1")
                try await send("sub /public/")
                #expect(try await next() == "ack \(server.baseURL)/public/")
                try await send("sub /public/marker/")
                #expect(try await next() == "ack \(server.baseURL)/public/marker/")
                let alice = try await Tokens.bearer("alice")
                #expect(try await server.send(.PUT, "/public/secret", headers: [alice], json: "{}").status == 201)
                #expect(try await server.send(.PUT, "/public/marker/m", json: "{}").status == 201)
                #expect(try await next() == "pub \(server.baseURL)/public/marker/")
                #expect(try await server.send(.PUT, "/public/open", json: "{}").status == 201)
                #expect(try await next() == "pub \(server.baseURL)/public/")
            }
        }
    }

    /// A policy reload that takes read access away ends the subscription, says so, and nothing
    /// written afterwards is published.
    @Test func aRevokedSubscriptionSaysSoAndPublishesNothingMore() async throws {
        try await UniformRevocationTests.withTeam { server, revoke in
            let socket = server.baseURL.replacingOccurrences(of: "http://", with: "ws://") + "/.eddy/solid-0.1"
            var headers = HTTPFields()
            headers[.authorization] = try await Tokens.bearer("bob").1
            let before = server.server.hub.subscriberCount
            try await SocketScript.runText(socket, subprotocol: "solid-0.1", headers: headers) { send, next in
                #expect(try await next() == "protocol solid-0.1")
                try await send("sub /team/plan")
                #expect(try await next() == "ack \(server.baseURL)/team/plan")
                try revoke()
                #expect(server.server.hub.subscriberCount == before)
                let ended = try await next()
                #expect(ended.hasPrefix("error \(server.baseURL)/team/plan") && ended.contains("revoked"), "\(ended)")
                try await UniformRevocationTests.writeAfterRevocation(server)
                try await send("sub /team/plan")
                #expect(try await next().hasPrefix("error \(server.baseURL)/team/plan"))
            }
        }
    }
}
