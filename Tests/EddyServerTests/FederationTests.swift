import ConcrntCrypto
import EddyCore
import EddyServer
import Foundation
import HTTPTypes
import Testing

@testable import EddyServer

/// Two Eddy servers on loopback, each with its own server key: alice lives on `home`; `away`
/// knows `home` as its peer. What alice commits at home is read and watched from away, by
/// Concrnt realtime and by LiveResource, through one upstream socket, and enters away's log.
@Suite struct FederationTests {
    static let loopback = [CIDR("127.0.0.0/8")!]

    static func withPair(peered: Bool = true, _ body: (_ home: TestServer, _ away: TestServer) async throws -> Void) async throws {
        try await TestServer.with(configure: { $0.allowOutbound = loopback }) { home in
            try await TestServer.with(configure: {
                $0.allowOutbound = loopback
                if peered { $0.concrntPeers = [URL(string: home.baseURL)!] }
            }) { away in
                #expect(home.server.serverKey.csid != away.server.serverKey.csid)
                try await body(home, away)
            }
        }
    }

    static func resourceURL(_ server: TestServer, _ uri: String) -> String {
        server.baseURL + Concrnt.resourcePrefix + uri.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
    }

    @Test func aRemoteDocumentIsReadFromItsHomeFoundThroughAPeerOrAHint() async throws {
        try await Self.withPair { home, away in
            let alice = Entity()
            let note = alice.signed(alice.document(key: "note"))
            #expect(try await ConcrntTests.commit(home, note).status == 201)
            let uri = "cc://\(alice.ccid)/note"
            let read = try await TestHTTP.send(.GET, Self.resourceURL(away, uri))
            #expect(read.status == 200, "\(read.body)")
            #expect(read.body == note)
            #expect(try await TestHTTP.send(.GET, Self.resourceURL(away, "cc://\(alice.ccid)/nothing")).status == 404)
            // Away describes alice by where she lives.
            let entity = try await TestHTTP.send(.GET, away.baseURL + Concrnt.entityPrefix + alice.ccid)
            #expect(entity.json?["domain"] == .string(home.baseURL.replacingOccurrences(of: "http://", with: "")))
        }
        // Without a peer, the hint in the URI says where to look.
        try await Self.withPair(peered: false) { home, away in
            let alice = Entity()
            let note = alice.signed(alice.document(key: "note"))
            #expect(try await ConcrntTests.commit(home, note).status == 201)
            #expect(try await TestHTTP.send(.GET, Self.resourceURL(away, "cc://\(alice.ccid)/note")).status == 404)
            let host = home.baseURL.replacingOccurrences(of: "http://", with: "")
            // A hint names a host; a server not among the peers is reached over https, which
            // this test's home does not speak: it is unreachable, and away says so.
            let hinted = try await TestHTTP.send(.GET, Self.resourceURL(away, "cc://\(alice.ccid)@\(host)/note"))
            #expect(hinted.status == 502, "\(hinted.status) \(hinted.body)")
        }
    }

    /// An entity's own affiliation document, held here, says where it lives: away learns
    /// alice's home from it when no peer can tell.
    @Test func anAffiliationDocumentHeldHereSaysWhereItsAuthorLives() async throws {
        try await TestServer.with(configure: { $0.allowOutbound = Self.loopback }) { home in
            // A peer on home's host and port that knows no entity: it gives away the scheme only.
            try await TestServer.with(configure: {
                $0.allowOutbound = Self.loopback
                $0.concrntPeers = [URL(string: home.baseURL + "/nowhere")!]
            }) { away in
                let alice = Entity()
                let note = alice.signed(alice.document(key: "note"))
                #expect(try await ConcrntTests.commit(home, note).status == 201)
                #expect(try await TestHTTP.send(.GET, Self.resourceURL(away, "cc://\(alice.ccid)/note")).status == 404)
                let host = home.baseURL.replacingOccurrences(of: "http://", with: "")
                let affiliation = alice.signed(
                    alice.document(key: "affiliation", value: #"{"domain":"\#(host)"}"#, schema: "https://schema.concrnt.world/a/affiliation.json"))
                #expect(try await ConcrntTests.commit(away, affiliation).status == 201)
                let read = try await TestHTTP.send(.GET, Self.resourceURL(away, "cc://\(alice.ccid)/note"))
                #expect(read.status == 200 && read.body == note, "\(read.status) \(read.body)")
            }
        }
    }

    /// A relayed document is believed only when it is its author's, for its key.
    @Test func aDocumentIsBelievedOnlyForTheURIItClaims() throws {
        let alice = Entity()
        let mallory = Entity()
        let uri = try ConcrntURI(parsing: "cc://\(alice.ccid)/note")
        try RemoteDocuments.check(alice.signed(alice.document(key: "note")), isDocumentOf: uri)
        #expect(throws: (any Error).self) { try RemoteDocuments.check(mallory.signed(mallory.document(key: "note")), isDocumentOf: uri) }
        #expect(throws: (any Error).self) { try RemoteDocuments.check(alice.signed(alice.document(key: "other")), isDocumentOf: uri) }
        #expect(throws: (any Error).self) { try RemoteDocuments.check(mallory.signed(alice.document(key: "note")), isDocumentOf: uri) }
    }

    @Test func aCommitAtHomeReachesWatchersAwayOverConcrntRealtimeAndLiveResource() async throws {
        // The stream's reads have no deadline of their own.
        try await withTimeout(60) { try await Self.commitsAtHomeReachWatchersAway() }
    }

    static func commitsAtHomeReachWatchersAway() async throws {
        try await Self.withPair { home, away in
            let alice = Entity()
            let timeline = "cc://\(alice.ccid)/home"
            #expect(try await ConcrntTests.commit(home, alice.signed(alice.document(key: "home", value: #"{"open":true}"#))).status == 201)
            let original = alice.signed(alice.document(key: "post", value: #"{"v":1}"#))
            #expect(try await ConcrntTests.commit(home, original).status == 201)
            let socket = away.baseURL.replacingOccurrences(of: "http://", with: "ws://") + Concrnt.realtimePath
            let homeWatchers = home.server.hub.subscriberCount
            // Away's log position now: the stream resumes after it, so it gets whatever away
            // commits of the post from here on, however the two requests below race.
            let changes = try #require(try await away.send(.GET, "/").links["changes"])
            let now = try #require(URLComponents(string: changes)?.queryItems?.first { $0.name == "after" }?.value)
            try await SocketScript.run(socket) { send, next in
                try await send(#"{"action":"subscribe","resources":["cc://\#(alice.ccid)/post","\#(timeline)"]}"#)
                var stream = try await SSEReader.open(away.baseURL + "/.eddy/value-stream/cc/\(alice.ccid)/post?after=\(now)")
                // One upstream socket from away, watching both (a value and members each).
                try await home.waitForSubscribers(atLeast: homeWatchers + 4)
                // Away fetched each document's current state when it began to watch it.
                var fetched: [JSONValue] = []
                while fetched.count < 2 {
                    let event = try await next()
                    #expect(event["event"] == .string("created"))
                    fetched.append(event["resource"] ?? .null)
                }
                #expect(Set(fetched) == [.string("cc://\(alice.ccid)/post"), .string(timeline)])
                let first = try #require(try await stream.next())
                #expect((try? JSONValue(parsing: first.data))?["signedDocument"] == .string(original), "\(first.data)")

                let second = alice.signed(alice.document(key: "post", value: #"{"v":2}"#))
                #expect(try await ConcrntTests.commit(home, second).status == 200)
                let event = try await next()
                #expect(event["event"] == .string("created"))
                #expect(event["signed_document"] == (try JSONValue(parsing: second)))
                let streamed = try #require(try await stream.next())
                #expect((try? JSONValue(parsing: streamed.data))?["signedDocument"] == .string(second), "\(streamed.data)")
                // It is in away's own log: a GET away reads it, with away's ETag.
                let copy = try await away.send(.GET, "/cc/\(alice.ccid)/post")
                #expect(copy.json?["signedDocument"] == .string(second))

                // A member posted to the timeline at home.
                let member = alice.signed(alice.document(key: "member", memberOf: [timeline]))
                #expect(try await ConcrntTests.commit(home, member).status == 201)
                let added = try await next()
                #expect(added["source"] == .string(timeline))
                #expect(added["resource"] == .string("cc://\(alice.ccid)/member"))
                // Another entity's post on alice's open timeline comes from the timeline's home.
                let bob = Entity()
                #expect(try await ConcrntTests.commit(home, bob.signed(bob.document(key: "reply", memberOf: [timeline]))).status == 201)
                let reply = try await next()
                #expect(reply["source"] == .string(timeline))
                #expect(reply["resource"] == .string("cc://\(bob.ccid)/reply"))

                // A deletion, with its signed delete document.
                let removal = alice.signed(alice.document(key: "post", kind: "delete"))
                #expect(try await ConcrntTests.commit(home, removal).status == 204)
                let deleted = try await next()
                #expect(deleted["event"] == .string("deleted"))
                #expect(deleted["signed_document"] == (try JSONValue(parsing: removal)))
            }
            // Nobody away watches any more: the upstream lets go of everything at home.
            try await home.waitForSubscribers(atMost: homeWatchers)
        }
    }
}
