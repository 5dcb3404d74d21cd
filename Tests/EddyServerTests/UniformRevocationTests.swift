import EddyCore
import EddyTestSupport
@testable import EddyServer
import Foundation
import HTTPTypes
import Testing

/// When a policy reload takes read access away, every surface stops delivering to the watcher
/// who lost it: the hub re-checks each subscription's principal (`EddyServer.reloadPolicy`), so
/// no surface keeps a subscription of its own past a reload.
@Suite(.serialized)
struct UniformRevocationTests {
    static let policy = #"{"rules":[{"path":"/team/","read":["alice","bob"],"write":["alice"]}]}"#
    static let revoked = #"{"rules":[{"path":"/team/","read":["alice"],"write":["alice"]}]}"#

    /// Runs `body` with a server whose policy file `revoke` rewrites to take bob's access away.
    static func withTeam(_ body: @escaping (TestServer, _ revoke: @escaping @Sendable () throws -> Void) async throws -> Void) async throws {
        let file = try Tokens.writePolicy(policy)
        defer { try? FileManager.default.removeItem(at: file) }
        try await TestServer.with(configure: {
            $0.policyFile = file
            $0.jwtSecret = Tokens.secret
        }) { server in
            let alice = try await Tokens.bearer("alice")
            #expect(try await server.send(.PUT, "/team/plan", headers: [alice], json: #"{"v":0}"#).status < 300)
            try await body(server) {
                try revoked.write(to: file, atomically: true, encoding: .utf8)
                try server.server.reloadPolicy()
            }
        }
    }

    static func writeAfterRevocation(_ server: TestServer) async throws {
        let alice = try await Tokens.bearer("alice")
        #expect(try await server.send(.PUT, "/team/plan", headers: [alice], json: #"{"v":"after-revocation"}"#).status < 300)
        #expect(try await server.send(.PUT, "/team/other", headers: [alice], json: #"{"v":"after-revocation"}"#).status < 300)
    }

    /// Every event stream says why it ends (an `error` event naming the revocation) and ends;
    /// nothing written afterwards reaches it.
    @Test(arguments: [
        "/.eddy/value-stream/team/plan", "/.eddy/changes-stream/team/", "/.eddy/multi-stream/?u=/team/plan",
        "/.eddy/events?path=/team/", "/.eddy/events?path=/team/plan",
    ])
    func everyEventStreamEndsWithTheRevocation(path: String) async throws {
        try await Self.withTeam { server, revoke in
            let bob = try await Tokens.bearer("bob")
            let events = try await withTimeout(10) {
                let before = server.server.hub.subscriberCount
                var reader = try await SSEReader.open(server.baseURL + path, headers: [bob])
                while server.server.hub.subscriberCount <= before { try await Task.sleep(for: .milliseconds(10)) }
                try revoke()
                try await Self.writeAfterRevocation(server)
                var events: [SSEReader.Event] = []
                while let event = try await reader.next() { events.append(event) }
                return events
            }
            let last = try #require(events.last, "\(path) ended without a word")
            #expect(last.event == "error" && last.data.contains("revoked"), "\(path) ended with \(last)")
            #expect(!events.contains { $0.data.contains("after-revocation") }, "\(path) delivered after the revocation: \(events)")
        }
    }

    /// A Solid EventSource is an event stream too: it says why it ends, as the others do.
    @Test func theSolidEventSourceEndsWithTheRevocation() async throws {
        try await Self.withTeam { server, revoke in
            let bob = try await Tokens.bearer("bob")
            let service = server.baseURL + "/.eddy/solid/subscription/EventSourceChannel2023"
            let channel = try #require(
                try await SolidTests.subscribe(service, type: "EventSourceChannel2023", topic: server.baseURL + "/team/plan", headers: [bob]).json)
            guard case .string(let url)? = channel["receiveFrom"] else { throw TestFailure("no receiveFrom in \(channel)") }
            let events = try await withTimeout(10) {
                let before = server.server.hub.subscriberCount
                var reader = try await SSEReader.open(url)
                try await server.waitForSubscribers(atLeast: before + 1)
                try revoke()
                try await Self.writeAfterRevocation(server)
                var events: [SSEReader.Event] = []
                while let event = try await reader.next() { events.append(event) }
                return events
            }
            let last = try #require(events.last, "the Solid EventSource ended without a word")
            #expect(last.event == "error" && last.data.contains("revoked"), "the Solid EventSource ended with \(last)")
            #expect(!events.contains { $0.data.contains("after-revocation") }, "delivered after the revocation: \(events)")
        }
    }

    @Test(arguments: ["EventSourceChannel2023", "StreamingHTTPChannel2023", "WebSocketChannel2023", "WebSocketSubscription2021"])
    func noSolidChannelDeliversAfterTheRevocation(type: String) async throws {
        try await Self.withTeam { server, revoke in
            let bob = try await Tokens.bearer("bob")
            let service = server.baseURL + "/.eddy/solid/subscription/" + type
            let channel = try #require(
                try await SolidTests.subscribe(service, type: type, topic: server.baseURL + "/team/plan", headers: [bob]).json)
            let reader = try await SolidTests.connected(channel, receiver: nil, server: server)
            defer { reader.stop() }
            let subscribed = server.server.hub.subscriberCount
            try revoke()
            #expect(server.server.hub.subscriberCount < subscribed, "\(type): the hub kept the channel's subscription")
            try await Self.writeAfterRevocation(server)
            #expect(await reader.isQuiet(for: 1), "\(type) delivered to a subject that may no longer read the topic")
        }
    }

    /// Concrnt realtime: the socket says the subscription was revoked, and what is committed
    /// afterwards does not reach it (the next message is the answer to a later request).
    @Test(arguments: ["deployed", "spec"])
    func concrntRealtimeStopsAtTheRevocation(dialect: String) async throws {
        let file = try Tokens.writePolicy(#"{"rules":[{"path":"/cc/","read":["alice","bob"],"write":"anyone"}]}"#)
        defer { try? FileManager.default.removeItem(at: file) }
        try await TestServer.with(configure: {
            $0.policyFile = file
            $0.jwtSecret = Tokens.secret
        }) { server in
            let alice = Entity()
            let commit = { @Sendable (value: String) async throws in
                let response = try await ConcrntTests.commit(server, alice.signed(alice.document(key: "plan", value: value)))
                #expect(response.status < 300)
            }
            try await commit(#"{"v":0}"#)
            let socket = server.baseURL.replacingOccurrences(of: "http://", with: "ws://") + Concrnt.realtimePath
            var headers = HTTPFields()
            headers[.authorization] = try await Tokens.bearer("bob").1
            let before = server.server.hub.subscriberCount
            try await SocketScript.run(socket, headers: headers) { send, next in
                if dialect == "deployed" {
                    try await send(#"{"type":"listen","prefixes":["cc://\#(alice.ccid)/"]}"#)
                    #expect(try await next()["type"] == .string("subscribed"))
                } else {
                    try await send(#"{"action":"subscribe","resources":["cc://\#(alice.ccid)/plan"]}"#)
                    try await StreamHandoffTests.eventually { server.server.hub.subscriberCount == before + 2 }
                }
                try #"{"rules":[{"path":"/cc/","read":["alice"],"write":"anyone"}]}"#.write(to: file, atomically: true, encoding: .utf8)
                try server.server.reloadPolicy()
                #expect(server.server.hub.subscriberCount == before, "\(dialect): the hub kept the socket's subscriptions")
                try await commit(#"{"v":"after-revocation"}"#)
                try await send(#"{"type":"no-such-type"}"#)
                var messages: [String] = []
                while true {
                    let message = try await next()
                    if message["message"] == .string("unknown type no-such-type") { break }
                    messages.append(message.text)
                }
                #expect(messages.contains { $0.contains("revoked") }, "\(dialect): the socket was not told: \(messages)")
                #expect(!messages.contains { $0.contains("after-revocation") }, "\(dialect) delivered after the revocation: \(messages)")
            }
        }
    }
}
