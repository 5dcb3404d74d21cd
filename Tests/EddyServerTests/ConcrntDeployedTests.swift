import ConcrntCrypto
import EddyCore
import Foundation
import HTTPTypes
import Testing

@testable import EddyServer

/// Concrnt as the deployed server and web client use it: RFC 6570 templates under the deployed
/// names, a timeline reached from its `cc://` URI, the newest entries across timelines, and
/// deletions relayed with their signed delete document.
@Suite struct ConcrntDeployedTests {
    /// RFC 6570 expansion as a client's template library does it, for the two forms the
    /// well-known document uses: `{var}` (everything but unreserved characters encoded) and
    /// `{?a,b,c}` (a query; lists joined by commas; absent variables left out).
    static func expand(_ template: String, _ values: [String: [String]]) -> String {
        var unreserved = CharacterSet.alphanumerics
        unreserved.insert(charactersIn: "-._~")
        func encode(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: unreserved)! }
        var out = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            out += rest[..<open]
            let expression = rest[rest.index(after: open)..<close]
            if expression.hasPrefix("?") {
                let pairs = expression.dropFirst().split(separator: ",").compactMap { name in
                    values[String(name)].map { "\(name)=" + $0.map(encode).joined(separator: ",") }
                }
                if !pairs.isEmpty { out += "?" + pairs.joined(separator: "&") }
            } else {
                out += values[String(expression)]?.map(encode).joined(separator: ",") ?? ""
            }
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }

    static func endpoint(_ server: TestServer, _ name: String) async throws -> String {
        let document = try #require(try await server.send(.GET, "/.well-known/concrnt").json)
        guard case .string(let template)? = document["endpoints"]?[name] else { throw TestFailure("no \(name) in \(document)") }
        return server.baseURL + template
    }

    @Test func wellKnownAdvertisesTheDeployedNamesBesideTheSpecsAndTheDomain() async throws {
        try await TestServer.with { server in
            let document = try #require(try await server.send(.GET, "/.well-known/concrnt").json)
            #expect(document["domain"] == .string(server.baseURL.replacingOccurrences(of: "http://", with: "")))
            let endpoints = try #require(document["endpoints"])
            #expect(endpoints["net.concrnt.core.resolve"] == .string("/.eddy/concrnt/resolve?uri={uri}"))
            #expect(endpoints["net.concrnt.world.timeline.recent"] == .string("/.eddy/concrnt/recent{?uris,until,limit}"))
            #expect(endpoints["net.concrnt.timeline.chunked"] == .string("/.eddy/concrnt/timeline/${uri}"))
            #expect(endpoints["net.concrnt.core.resource"] == .string("/.eddy/concrnt/resource/${uri}"))
            // No name mixes the two kinds of template.
            guard case .object(let all) = endpoints else { throw TestFailure("endpoints is not an object") }
            for member in all.members {
                guard case .string(let template) = member.value else { continue }
                #expect(!(template.contains("${") && template.replacingOccurrences(of: "${", with: "").contains("{")), "\(member.name)")
            }
        }
    }

    /// A client holding only a timeline's URI reaches its chunked timeline three ways: the
    /// deployed resolve endpoint and the spec's resource endpoint with a timeline media type,
    /// and the spec's timeline template; before its first member too.
    @Test func aTimelineIsReachedFromItsURI() async throws {
        try await TestServer.with { server in
            let alice = Entity()
            let timeline = "cc://\(alice.ccid)/home"
            let homeDocument = alice.signed(alice.document(key: "home", value: "{}"))
            #expect(try await ConcrntTests.commit(server, homeDocument).status == 201)
            let resolve = try await Self.endpoint(server, "net.concrnt.core.resolve")
            let resource = try await Self.endpoint(server, "net.concrnt.core.resource")
            let chunked = try await Self.endpoint(server, "net.concrnt.timeline.chunked")
            let encoded = Self.expand("{uri}", ["uri": [timeline]])
            let ways: [(String, String, [(String, String)], String)] = [
                ("resolve, chunkline", Self.expand(resolve, ["uri": [timeline]]), [("Accept", "application/chunkline+json")], "application/chunkline+json"),
                ("resolve, chunked-timeline", Self.expand(resolve, ["uri": [timeline]]), [("Accept", ChunkedTimeline.mediaType)], ChunkedTimeline.mediaType),
                ("resource, chunkline", resource.replacingOccurrences(of: "${uri}", with: encoded), [("Accept", "application/chunkline+json")], "application/chunkline+json"),
                ("timeline template", chunked.replacingOccurrences(of: "${uri}", with: encoded), [], ChunkedTimeline.mediaType),
            ]
            for (way, url, headers, mediaType) in ways {
                let answer = try await TestHTTP.send(.GET, url, headers: headers)
                #expect(answer.status == 200, "\(way): \(answer.status) \(answer.body)")
                #expect(answer.header("Content-Type") == mediaType, "\(way)")
                #expect(answer.json?["chunkSize"] == .int(300), "\(way): \(answer.body)")
            }
            // Without a timeline media type, resolve answers the signed document itself.
            #expect(try await TestHTTP.send(.GET, Self.expand(resolve, ["uri": [timeline]])).body == homeDocument)

            let post = alice.signed(alice.document(key: "post/1", memberOf: [timeline]))
            #expect(try await ConcrntTests.commit(server, post).status == 201)
            let document = try #require(
                try await TestHTTP.send(.GET, Self.expand(resolve, ["uri": [timeline]]), headers: [("Accept", "application/chunkline+json")]).json)
            guard case .string(let iterator)? = document["descending"]?["iterator"], case .string(let body)? = document["descending"]?["body"],
                case .int(let last)? = document["lastChunk"]
            else { throw TestFailure("incomplete timeline document: \(document)") }
            let newest = try await TestHTTP.send(.GET, iterator.replacingOccurrences(of: "{chunk}", with: String(last))).body
            let entries = try #require(try await TestHTTP.send(.GET, body.replacingOccurrences(of: "{chunk}", with: newest)).json)
            guard case .array(let items) = entries else { throw TestFailure("not an array: \(entries.text)") }
            #expect(items.map { $0["href"] } == [.string("cc://\(alice.ccid)/post/1")])

            // A URI that names nothing is 404, a malformed one 400, a missing one 400.
            let unknown = Self.expand(resolve, ["uri": ["cc://\(alice.ccid)/nothing"]])
            #expect(try await TestHTTP.send(.GET, unknown, headers: [("Accept", "application/chunkline+json")]).status == 404)
            #expect(try await TestHTTP.send(.GET, unknown).status == 404)
            #expect(try await TestHTTP.send(.GET, Self.expand(resolve, ["uri": ["not-a-uri"]])).status == 400)
            #expect(try await server.send(.GET, "/.eddy/concrnt/resolve").status == 400)
        }
    }

    /// The newest entries across several timelines, placed by each document's own `createdAt`
    /// (not by when it was committed), each document once, paged by `until` and `limit`.
    @Test func recentListsTheNewestEntriesAcrossTimelines() async throws {
        try await TestServer.with(configure: { $0.concrntMaximumSkewSeconds = 3600 }) { server in
            let alice = Entity()
            let home = "cc://\(alice.ccid)/home"
            let work = "cc://\(alice.ccid)/work"
            for key in ["home", "work"] {
                #expect(try await ConcrntTests.commit(server, alice.signed(alice.document(key: key, value: "{}"))).status == 201)
            }
            let now = Date()
            // Committed out of order; p5 sits on both timelines.
            let posts: [(String, Double, [String])] = [
                ("p4", -20, [work]), ("p1", -50, [home]), ("p3", -30, [home]), ("p5", -10, [home, work]), ("p2", -40, [work]),
            ]
            for (key, offset, timelines) in posts {
                let envelope = alice.signed(alice.document(key: key, memberOf: timelines, createdAt: now.addingTimeInterval(offset)))
                #expect(try await ConcrntTests.commit(server, envelope).status == 201)
            }
            let recent = try await Self.endpoint(server, "net.concrnt.world.timeline.recent")
            func hrefs(_ values: [String: [String]]) async throws -> [String] {
                let answer = try await TestHTTP.send(.GET, Self.expand(recent, values))
                guard answer.status == 200, case .array(let items)? = answer.json else { throw TestFailure("\(values): \(answer.status) \(answer.body)") }
                return items.map { if case .string(let href)? = $0["href"] { String(href.split(separator: "/").last!) } else { "?" } }
            }
            #expect(try await hrefs(["uris": [home, work]]) == ["p5", "p4", "p3", "p2", "p1"])
            #expect(try await hrefs(["uris": [home, work], "limit": ["2"]]) == ["p5", "p4"])
            #expect(try await hrefs(["uris": [home]]) == ["p5", "p3", "p1"])
            let until = Int(now.addingTimeInterval(-25).timeIntervalSince1970)
            #expect(try await hrefs(["uris": [home, work], "until": [String(until)]]) == ["p3", "p2", "p1"])
            #expect(try await hrefs(["uris": [work, home], "until": [Instant.format(now.addingTimeInterval(-35))]]) == ["p2", "p1"])
            #expect(try await hrefs(["uris": [home, work], "limit": ["1000"]]).count == 5)

            for (what, values) in [
                ("no uris", [String: [String]]()), ("limit 0", ["uris": [home], "limit": ["0"]]), ("limit x", ["uris": [home], "limit": ["x"]]),
                ("bad uri", ["uris": ["https://x/"]]), ("bad until", ["uris": [home], "until": ["soon"]]),
                ("65 timelines", ["uris": (0...64).map { "cc://\(alice.ccid)/t\($0)" }]),
            ] {
                #expect(try await TestHTTP.send(.GET, Self.expand(recent, values)).status == 400, "\(what)")
            }
        }
    }

    /// A timeline the caller may not read is refused, and an entry a stricter rule hides is
    /// left out, as in every listing.
    @Test func recentKeepsToWhatTheCallerMayRead() async throws {
        let alice = Entity()
        let cc = "/cc/\(alice.ccid)/"
        let hiddenEntry = cc + "home/" + ConcrntURI.memberID(try ConcrntURI(parsing: "cc://\(alice.ccid)/secret"))
        let policy = #"{"rules":[{"path":"/cc/","read":"anyone","write":"anyone"},{"path":"\#(cc)private/","read":["alice"],"write":"anyone"},"#
            + #"{"path":"\#(hiddenEntry)","read":["alice"],"write":"anyone"}]}"#
        try await TestServer.with(policy: policy) { server in
            let home = "cc://\(alice.ccid)/home"
            #expect(try await ConcrntTests.commit(server, alice.signed(alice.document(key: "home", value: "{}"))).status == 201)
            for key in ["open", "secret"] {
                #expect(try await ConcrntTests.commit(server, alice.signed(alice.document(key: key, memberOf: [home]))).status == 201)
            }
            let recent = try await Self.endpoint(server, "net.concrnt.world.timeline.recent")
            let visible = try await TestHTTP.send(.GET, Self.expand(recent, ["uris": [home]]))
            guard case .array(let items)? = visible.json else { throw TestFailure("not an array: \(visible.body)") }
            #expect(items.map { $0["href"] } == [.string("cc://\(alice.ccid)/open")])
            let everything = try await TestHTTP.send(.GET, Self.expand(recent, ["uris": [home]]), headers: [try await Tokens.bearer("alice")])
            #expect(everything.json.map { if case .array(let items) = $0 { items.count } else { 0 } } == 2)
            let refused = try await TestHTTP.send(.GET, Self.expand(recent, ["uris": [home, "cc://\(alice.ccid)/private"]]))
            #expect(refused.status == 401)
        }
    }

    /// A deletion reaches realtime with the signed document that asked for it, in both dialects
    /// and for a timeline's watcher too.
    @Test func aDeletionIsRelayedWithItsSignedDeleteDocument() async throws {
        try await TestServer.with { server in
            let alice = Entity()
            let timeline = "cc://\(alice.ccid)/home"
            #expect(try await ConcrntTests.commit(server, alice.signed(alice.document(key: "home", value: "{}"))).status == 201)
            let socket = server.baseURL.replacingOccurrences(of: "http://", with: "ws://") + Concrnt.realtimePath
            for key in ["post/1", "post/2"] {
                #expect(try await ConcrntTests.commit(server, alice.signed(alice.document(key: key, memberOf: [timeline]))).status == 201)
            }
            let changes = try #require(try await server.send(.GET, "/cc/\(alice.ccid)/home/").links["changes"])

            let first = "cc://\(alice.ccid)/post/1"
            let firstRemoval = alice.signed(alice.document(key: "post/1", kind: "delete"))
            try await SocketScript.run(socket) { send, next in
                try await send(#"{"action":"subscribe","resources":["\#(first)","\#(timeline)"]}"#)
                try await send("{}")
                #expect(try await next()["type"] == .string("error"))
                #expect(try await ConcrntTests.commit(server, firstRemoval).status == 204)
                var bySource: [String: JSONValue] = [:]
                while bySource.count < 2 {
                    let event = try await next()
                    guard case .string(let source)? = event["source"] else { throw TestFailure("no source in \(event.text)") }
                    bySource[source] = event
                }
                for source in [first, timeline] {
                    #expect(bySource[source]?["event"] == .string("deleted"), "\(source)")
                    #expect(bySource[source]?["resource"] == .string(first), "\(source)")
                    #expect(bySource[source]?["signed_document"] == (try JSONValue(parsing: firstRemoval)), "\(source)")
                }
            }

            let second = "cc://\(alice.ccid)/post/2"
            let secondRemoval = alice.signed(alice.document(key: "post/2", kind: "delete"))
            try await SocketScript.run(socket) { send, next in
                try await send(#"{"type":"listen","prefixes":["cc://\#(alice.ccid)/post"]}"#)
                #expect(try await next()["type"] == .string("subscribed"))
                #expect(try await ConcrntTests.commit(server, secondRemoval).status == 204)
                let event = try await next()
                #expect(event["type"] == .string("deleted"))
                #expect(event["uri"] == .string(second))
                #expect(event["documents"]?[second] == (try JSONValue(parsing: secondRemoval)))
            }

            // Every other protocol still sees an ordinary deletion, without a value.
            let feed = try await TestHTTP.send(.GET, changes).body
            #expect(feed.contains("\"deleted\":true"), "\(feed)")
            #expect(!feed.contains("signedDocument"), "\(feed)")
            #expect(try await server.send(.GET, "/cc/\(alice.ccid)/post/1").status == 404)
        }
    }
}
