import AsyncHTTPClient
import ConcrntCrypto
import EddyCore
import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOCore
import NIOConcurrencyHelpers
import Testing

@testable import EddyServer

/// A fresh entity that signs documents for the tests.
struct Entity {
    let key = SigningKey.generate()
    var ccid: String { key.ccid }

    func document(
        key: String, value: String = #"{"body":"hello"}"#, memberOf: [String] = [], kind: String? = nil, createdAt: Date = Date(),
        schema: String = "https://schema.concrnt.net/note.json"
    ) -> String {
        let members = memberOf.map { JSONValue.quoted($0) }.joined(separator: ",")
        var text = #"{"key":\#(JSONValue.quoted(key)),"schema":\#(JSONValue.quoted(schema)),"value":\#(value),"#
        text += #""author":\#(JSONValue.quoted(ccid)),"createdAt":\#(JSONValue.quoted(Instant.format(createdAt))),"memberOf":[\#(members)]"#
        if let kind { text += #","kind":\#(JSONValue.quoted(kind))"# }
        return text + "}"
    }

    func signed(_ document: String) -> String {
        SignedDocument.sign(document: document, with: key)
    }
}

@Suite struct ConcrntTests {
    static func commit(_ server: TestServer, _ envelope: String) async throws -> TestResponse {
        try await server.send(.POST, Concrnt.commitPath, json: envelope)
    }

    @Test func wellKnownAdvertisesEveryEndpoint() async throws {
        try await TestServer.with { server in
            let response = try await server.send(.GET, "/.well-known/concrnt")
            let document = try #require(response.json)
            #expect(document["version"] == .string("2.0"))
            guard case .string(let csid)? = document["csid"] else { Issue.record("no csid"); return }
            #expect(csid.hasPrefix("ccs1") && CCID.isValid(csid, prefix: "ccs"))
            #expect(csid == server.server.serverKey.csid)
            for name in ["net.concrnt.core.entity", "net.concrnt.core.resource", "net.concrnt.core.realtime", "net.concrnt.core.commit"] {
                #expect(document["endpoints"]?[name] != nil, "missing \(name)")
            }
            if case .string(let entity)? = document["endpoints"]?["net.concrnt.core.entity"] { #expect(entity.contains("${ccid}")) }
            if case .string(let resource)? = document["endpoints"]?["net.concrnt.core.resource"] { #expect(resource.contains("${uri}")) }
        }
    }

    @Test func serverKeyIsMadeOnceAndKept() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-key-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try ChildServer(dataDirectory: directory)
        try await first.start()
        let csid = try await TestHTTP.send(.GET, first.baseURL + "/.well-known/concrnt").json?["csid"]
        first.signal(SIGTERM)
        _ = try await first.waitForExit()
        let second = try ChildServer(dataDirectory: directory)
        try await second.start()
        defer { second.signal(SIGKILL) }
        #expect(try await TestHTTP.send(.GET, second.baseURL + "/.well-known/concrnt").json?["csid"] == csid)
    }

    @Test func commitsAreStoredByteForByteAndRefusedWhenBad() async throws {
        try await TestServer.with(configure: { $0.maximumBodyBytes = 8192 }) { server in
            let alice = Entity()
            let mallory = Entity()
            let envelope = alice.signed(alice.document(key: "notes/1"))
            let created = try await Self.commit(server, envelope)
            #expect(created.status == 201, "\(created.body)")
            #expect(created.json?["uri"] == .string("cc://\(alice.ccid)/notes/1"))

            // The resource endpoint returns the signed document exactly as committed.
            let uri = "cc://\(alice.ccid)/notes/1".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let fetched = try await server.send(.GET, Concrnt.resourcePrefix + uri)
            #expect(fetched.status == 200)
            #expect(fetched.body == envelope)
            #expect(try await server.send(.GET, Concrnt.resourcePrefix + "cc%3A%2F%2F\(alice.ccid)%2Fnope").status == 404)
            // The same document is an ordinary resource for every other protocol.
            let asResource = try await server.send(.GET, "/cc/\(alice.ccid)/notes/1")
            #expect(asResource.json?["signedDocument"] == .string(envelope))
            #expect(try await server.send(.GET, Concrnt.entityPrefix + alice.ccid).json?["ccid"] == .string(alice.ccid))
            #expect(try await server.send(.GET, Concrnt.entityPrefix + mallory.ccid).status == 404)

            func expectRefusal(_ envelope: String, _ status: Int, _ note: String) async throws {
                let response = try await Self.commit(server, envelope)
                #expect(response.status == status, "\(note): \(response.status) \(response.body)")
                #expect(response.header("Content-Type") == "application/problem+json", "\(note)")
            }
            // A bad signature: one that recovers no key, one of the wrong length, or none at all.
            // (A merely altered one recovers some other key: that is an author mismatch, below.)
            let signature = envelope.range(of: #""signature":""#)!.upperBound
            var zeroed = envelope
            zeroed.replaceSubrange(signature..<envelope.index(signature, offsetBy: 64), with: String(repeating: "0", count: 64))
            try await expectRefusal(zeroed, 401, "unrecoverable signature")
            var short = envelope
            short.replaceSubrange(signature..<envelope.index(signature, offsetBy: 2), with: "")
            try await expectRefusal(short, 401, "short signature")
            var flipped = envelope
            flipped.replaceSubrange(signature...signature, with: envelope[signature] == "0" ? "1" : "0")
            let altered = try await Self.commit(server, flipped)
            #expect([401, 403].contains(altered.status))
            try await expectRefusal(#"{"document":"{}","proof":{"type":"concrnt-ecrecover-direct"}}"#, 401, "missing signature")
            // Signed by mallory, claiming to be alice.
            try await expectRefusal(mallory.signed(alice.document(key: "forged")), 403, "author mismatch")
            try await expectRefusal("not json", 400, "malformed envelope")
            try await expectRefusal(alice.signed(#"{"author":"\#(alice.ccid)"}"#), 400, "malformed document")
            try await expectRefusal(alice.signed(alice.document(key: "x", memberOf: ["https://not-cc/"])), 400, "bad cc:// URI")
            try await expectRefusal(alice.signed(alice.document(key: "old", createdAt: Date().addingTimeInterval(-3600))), 400, "skew")
            let big = alice.signed(alice.document(key: "big", value: #"{"pad":"\#(String(repeating: "x", count: 9000))"}"#))
            try await expectRefusal(big, 413, "oversized")
        }
    }

    @Test func membershipNeedsTheOwnerOrAnOpenCollection() async throws {
        try await TestServer.with { server in
            let alice = Entity()
            let bob = Entity()
            let aliceTimeline = "cc://\(alice.ccid)/timeline"
            #expect(try await Self.commit(server, alice.signed(alice.document(key: "timeline", value: "{}"))).status == 201)
            let refused = try await Self.commit(server, bob.signed(bob.document(key: "reply", memberOf: [aliceTimeline])))
            #expect(refused.status == 403)
            #expect(try await server.send(.GET, "/cc/\(bob.ccid)/reply").status == 404)
            #expect(try await Self.commit(server, alice.signed(alice.document(key: "timeline", value: #"{"open":true}"#))).status == 200)
            #expect(try await Self.commit(server, bob.signed(bob.document(key: "reply", memberOf: [aliceTimeline]))).status == 201)
            let members = try await server.send(.GET, "/cc/\(alice.ccid)/timeline/")
            guard case .array(let items)? = members.json else { Issue.record("no members"); return }
            #expect(items.map { $0["href"] } == [.string("cc://\(bob.ccid)/reply")])
        }
    }

    @Test func realtimeDeliversCommitsInBothDialects() async throws {
        try await TestServer.with { server in
            let alice = Entity()
            let timeline = "cc://\(alice.ccid)/home"
            #expect(try await Self.commit(server, alice.signed(alice.document(key: "home", value: "{}"))).status == 201)
            let socket = server.baseURL.replacingOccurrences(of: "http://", with: "ws://") + Concrnt.realtimePath
            let post = alice.signed(alice.document(key: "post/1", memberOf: [timeline]))
            let removal = alice.signed(alice.document(key: "post/1", kind: "delete"))

            // Spec dialect: the resource and its collection.
            try await SocketScript.run(socket) { send, next in
                try await send(#"{"action":"subscribe","resources":["cc://\#(alice.ccid)/post/1","\#(timeline)"]}"#)
                // The overlapping replacement must not lose anything for the entry in both lists.
                try await send(#"{"action":"subscribe","resources":["\#(timeline)","cc://\#(alice.ccid)/post/1"]}"#)
                // The spec dialect does not acknowledge a subscription, but messages are handled
                // in order: once one without an action is refused, both lists are in place.
                try await send("{}")
                #expect(try await next()["type"] == .string("error"))
                #expect(try await Self.commit(server, post).status == 201)
                var created: [String: JSONValue] = [:]
                while created.count < 2 {
                    let event = try await next()
                    #expect(event["event"] == .string("created"))
                    #expect(event["resource"] == .string("cc://\(alice.ccid)/post/1"))
                    if case .string(let source)? = event["source"] { created[source] = event["signed_document"] }
                }
                let expected = try JSONValue(parsing: post)
                #expect(created["cc://\(alice.ccid)/post/1"] == expected)
                #expect(created[timeline] == expected)
                #expect(try await Self.commit(server, removal).status == 204)
                var deleted = Set<JSONValue>()
                while deleted.count < 2 {
                    let event = try await next()
                    #expect(event["event"] == .string("deleted"))
                    #expect(event["resource"] == .string("cc://\(alice.ccid)/post/1"))
                    deleted.insert(event["source"] ?? .null)
                }
            }

            // Deployed dialect: prefixes, the ack, heartbeats.
            try await SocketScript.run(socket) { send, next in
                try await send(#"{"type":"listen","prefixes":["cc://\#(alice.ccid)/post"]}"#)
                let ack = try await next()
                #expect(ack["type"] == .string("subscribed"))
                #expect(ack["prefixes"] == .array([.string("cc://\(alice.ccid)/post")]))
                try await send(#"{"type":"h"}"#)
                try await send("garbage")
                #expect(try await next()["type"] == .string("error"))
                let second = alice.signed(alice.document(key: "post/2"))
                #expect(try await Self.commit(server, alice.signed(alice.document(key: "other"))).status == 201)
                #expect(try await Self.commit(server, second).status == 201)
                let event = try await next()
                #expect(event["type"] == .string("created"))
                #expect(event["uri"] == .string("cc://\(alice.ccid)/post/2"))
                #expect(event["source"] == .string("cc://\(alice.ccid)/post"))
                #expect(event["documents"]?["cc://\(alice.ccid)/post/2"] == (try JSONValue(parsing: second)))
                #expect(event["timestamp"] != nil)
            }
        }
    }

    @Test func signedDocumentsAreRelayedByteForByte() async throws {
        try await TestServer.with { server in
            let alice = Entity()
            // Unusual but valid spacing and escapes must survive untouched.
            let document = "{ \"key\":\"spaced\", \"value\": {\"t\":\"caf\\u00e9\"},\"author\":\"\(alice.ccid)\",\"createdAt\":\"\(Instant.format(Date()))\" }"
            let envelope = alice.signed(document)
            let socket = server.baseURL.replacingOccurrences(of: "http://", with: "ws://") + Concrnt.realtimePath
            let raw = try await withTimeout(15) {
                try await RawSocketText.firstMessage(socket, send: #"{"action":"subscribe","resources":["cc://\#(alice.ccid)/spaced"]}"#) {
                    _ = try await Self.commit(server, envelope)
                }
            }
            #expect(raw.contains(#""signed_document":"# + envelope))
        }
    }
}

/// Receives the text of the first message after sending one, without re-serialising it.
enum RawSocketText {
    /// Sends `message` (a spec-dialect subscription), runs `action` once the server has handled
    /// it, and returns the text of the next message.
    static func firstMessage(_ url: String, send message: String, then action: @escaping @Sendable () async throws -> Void) async throws -> String {
        var logger = Logger(label: "raw-ws")
        logger.logLevel = .critical
        let received = NIOLockedValueBox("")
        try await WebSocketClient.connect(url: url, logger: logger) { inbound, outbound, _ in
            var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
            try await outbound.write(.text(message))
            // Subscriptions are not acknowledged, but messages are handled in order: the refusal
            // of one without an action comes after the subscription is in place.
            try await outbound.write(.text("{}"))
            guard case .text(let refusal)? = try await messages.next(), refusal.contains("error") else {
                throw TestFailure("the socket did not refuse a message without an action")
            }
            try await action()
            if case .text(let text)? = try await messages.next() { received.withLockedValue { $0 = text } }
        }
        return received.withLockedValue { $0 }
    }
}

@Suite struct ConcrntAccessTests {
    @Test func commitsAreRateLimitedLikeOtherWrites() async throws {
        try await TestServer.with(configure: {
            $0.writesPerSecond = 0.5
            $0.writeBurst = 2
        }) { server in
            let alice = Entity()
            #expect(try await ConcrntTests.commit(server, alice.signed(alice.document(key: "1"))).status == 201)
            #expect(try await ConcrntTests.commit(server, alice.signed(alice.document(key: "2"))).status == 201)
            let limited = try await ConcrntTests.commit(server, alice.signed(alice.document(key: "3")))
            #expect(limited.status == 429)
            #expect(limited.header("Retry-After") != nil)
        }
    }

    @Test func realtimeShowsAnonymousSocketsOnlyWhatAnonymousReadersMaySee() async throws {
        let file = try Tokens.writePolicy(#"{"rules":[{"path":"/cc/","read":"authenticated","write":"authenticated"}]}"#)
        defer { try? FileManager.default.removeItem(at: file) }
        try await TestServer.with(configure: {
            $0.policyFile = file
            $0.jwtSecret = Tokens.secret
        }) { server in
            let alice = Entity()
            let socket = server.baseURL.replacingOccurrences(of: "http://", with: "ws://") + Concrnt.realtimePath
            let writer = try await Tokens.bearer("writer")
            let commit = { @Sendable (key: String) in
                try await server.send(.POST, Concrnt.commitPath, headers: [writer], json: alice.signed(alice.document(key: key)))
            }
            // A signature proves authorship; the write policy still decides who may commit.
            #expect(try await ConcrntTests.commit(server, alice.signed(alice.document(key: "a"))).status == 401)
            #expect(try await commit("a").status == 201)
            #expect(try await server.send(.GET, "/cc/\(alice.ccid)/a").status == 401)

            try await SocketScript.run(socket) { send, next in
                try await send(#"{"type":"listen","prefixes":["cc://\#(alice.ccid)/"]}"#)
                let refused = try await next()
                #expect(refused["type"] == .string("error"))
                let ack = try await next()
                #expect(ack["prefixes"] == .array([]))
                _ = try await commit("b")
                try await send(#"{"type":"h"}"#)
                try await send(#"{"type":"unknown"}"#)
                // The next thing that arrives is the answer to that, not an event.
                #expect(try await next()["type"] == .string("error"))
            }
            var headers = HTTPFields()
            headers[.authorization] = try await Tokens.bearer("reader").1
            try await SocketScript.run(socket, headers: headers) { send, next in
                try await send(#"{"type":"listen","prefixes":["cc://\#(alice.ccid)/"]}"#)
                #expect(try await next()["type"] == .string("subscribed"))
                _ = try await commit("c")
                #expect(try await next()["uri"] == .string("cc://\(alice.ccid)/c"))
            }
        }
    }
}
