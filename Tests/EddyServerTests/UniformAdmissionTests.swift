import EddyCore
@testable import EddyServer
import Foundation
import Testing

/// A child that a stricter rule hides below a collection the watcher may read is delivered by
/// no surface: every subscription is made through the access controller's `watcher`, and the
/// hub asks it for every event.
@Suite struct UniformAdmissionTests {
    static let policy = #"""
        {"rules":[{"path":"/public/","read":"anyone","write":"anyone"},{"path":"/public/secret","read":["alice"],"write":["alice"]}]}
        """#

    /// Writes the hidden child, then a visible one: the first thing a watcher gets must be the visible one.
    static func writeHiddenThenVisible(_ server: TestServer, _ round: Int) async throws {
        let alice = try await Tokens.bearer("alice")
        #expect(try await server.send(.PUT, "/public/secret", headers: [alice], json: #"{"text":"only alice \#(round)"}"#).status < 300)
        #expect(try await server.send(.PUT, "/public/open\(round)", json: #"{"text":"for everyone"}"#).status < 300)
    }

    static func expectOnlyTheVisible(_ text: String, _ surface: String) {
        #expect(text.contains("open"), "\(surface): \(text)")
        #expect(!text.contains("secret") && !text.contains("only alice"), "\(surface) leaked the hidden child: \(text)")
    }

    @Test func noEventStreamDeliversAHiddenChild() async throws {
        try await TestServer.with(policy: Self.policy) { server in
            let streams = [
                ("changes-stream", "/.eddy/changes-stream/public/"), ("multiplex-stream", "/.eddy/multi-stream/?u=/public/"),
                ("/.eddy/events children", "/.eddy/events?path=/public/&mode=children"), ("/.eddy/events subtree", "/.eddy/events?path=/public/"),
            ]
            for (round, (surface, path)) in streams.enumerated() {
                let first = try await withTimeout(10) {
                    var reader = try await SSEReader.open(server.baseURL + path)
                    try await Self.writeHiddenThenVisible(server, round)
                    return try await reader.next()
                }
                Self.expectOnlyTheVisible(first?.data ?? "nothing", surface)
            }
        }
    }

    @Test func multiplexSocketDeliversNoHiddenChild() async throws {
        try await TestServer.with(policy: Self.policy) { server in
            #expect(try await server.send(.PUT, "/public/open", json: "{}").status < 300)
            let wsURL = try #require(try await server.send(.GET, "/public/open").links["multiplex-ws"])
            try await SocketScript.run(wsURL) { send, next in
                try await send(#"{"id":1,"type":"subscribe","mode":"changes","uri":"/public/"}"#)
                #expect(try await next()["type"] == .string("subscribed"))
                try await Self.writeHiddenThenVisible(server, 0)
                Self.expectOnlyTheVisible(try await next().text, "multiplex-ws")
            }
        }
    }

    @Test(arguments: ["EventSourceChannel2023", "StreamingHTTPChannel2023", "WebSocketChannel2023", "WebSocketSubscription2021"])
    func solidChannelsDeliverNoHiddenChild(type: String) async throws {
        try await TestServer.with(policy: Self.policy) { server in
            #expect(try await server.send(.PUT, "/public/open", json: "{}").status < 300)
            let topic = server.baseURL + "/public/"
            let service = try await SolidTests.discoverService(server.baseURL + "/public/open", type: type)
            let channel = try #require(try await SolidTests.subscribe(service, type: type, topic: topic).json)
            let reader = try await SolidTests.connected(channel, receiver: nil, server: server)
            defer { reader.stop() }
            try await Self.writeHiddenThenVisible(server, 1)
            Self.expectOnlyTheVisible(try await reader.next().text, type)
        }
    }

    /// Concrnt realtime: the hidden document below a watched prefix (deployed dialect), and the
    /// hidden member of a watched timeline (spec dialect), reach no socket.
    @Test(arguments: ["deployed", "spec"])
    func concrntRealtimeDeliversNoHiddenChild(dialect: String) async throws {
        let alice = Entity()
        let cc = "/cc/\(alice.ccid)/"
        let timeline = "cc://\(alice.ccid)/home"
        let hiddenEntry = cc + "home/" + ConcrntURI.memberID(try ConcrntURI(parsing: "cc://\(alice.ccid)/secret"))
        let policy = #"{"rules":[{"path":"/cc/","read":"anyone","write":"anyone"},"#
            + #"{"path":"\#(cc)secret","read":["alice"],"write":"anyone"},{"path":"\#(hiddenEntry)","read":["alice"],"write":"anyone"}]}"#
        try await TestServer.with(policy: policy) { server in
            #expect(try await ConcrntTests.commit(server, alice.signed(alice.document(key: "home", value: "{}"))).status == 201)
            let socket = server.baseURL.replacingOccurrences(of: "http://", with: "ws://") + Concrnt.realtimePath
            let before = server.server.hub.subscriberCount
            try await SocketScript.run(socket) { send, next in
                if dialect == "deployed" {
                    try await send(#"{"type":"listen","prefixes":["cc://\#(alice.ccid)/"]}"#)
                    #expect(try await next()["type"] == .string("subscribed"))
                } else {
                    try await send(#"{"action":"subscribe","resources":["\#(timeline)"]}"#)
                    try await StreamHandoffTests.eventually { server.server.hub.subscriberCount == before + 2 }
                }
                let memberOf = dialect == "spec" ? [timeline] : []
                let hidden = alice.document(key: "secret", value: #"{"text":"only alice"}"#, memberOf: memberOf)
                #expect(try await ConcrntTests.commit(server, alice.signed(hidden)).status == 201)
                let visible = alice.document(key: "open", value: #"{"text":"for everyone"}"#, memberOf: memberOf)
                #expect(try await ConcrntTests.commit(server, alice.signed(visible)).status == 201)
                Self.expectOnlyTheVisible(try await next().text, "Concrnt realtime (\(dialect))")
            }
        }
    }
}

/// A Solid channel carries its subject's read access: every channel type checks it when its
/// receiver connects, WebSockets included, so a channel made before a policy change cannot
/// be used to read what its subject no longer may.
@Suite struct SolidChannelAccessAtConnectTests {
    @Test(arguments: ["WebSocketChannel2023", "WebSocketSubscription2021", "EventSourceChannel2023"])
    func aChannelWhoseSubjectLostAccessDeliversNothing(type: String) async throws {
        try await TestServer.with(policy: #"{"rules":[{"path":"/team/","read":["bob"],"write":["bob"]}]}"#) { server in
            let bob = try await Tokens.bearer("bob")
            #expect(try await server.send(.PUT, "/team/plan", headers: [bob], json: "{}").status < 300)
            let service = server.baseURL + "/.eddy/solid/subscription/" + type
            let channel = try #require(
                try await SolidTests.subscribe(service, type: type, topic: server.baseURL + "/team/plan", headers: [bob]).json)
            server.server.access.replacePolicy(try AccessPolicy(parsing: #"{"rules":[{"path":"/team/","read":["carol"],"write":["bob"]}]}"#))
            let before = server.server.hub.subscriberCount
            let reader = try? await NotificationReader.connect(channel)
            defer { reader?.stop() }
            // A socket connects in the background: give a subscription, if one is made, the
            // time to be in place before the write, so that delivering it would be seen.
            let deadline = ContinuousClock.now + .seconds(3)
            while reader != nil, server.server.hub.subscriberCount <= before, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try await server.send(.PUT, "/team/plan", headers: [bob], json: #"{"v":1}"#).status < 300)
            if let reader {
                #expect(await reader.isQuiet(for: 1), "\(type) delivered to a subject that may no longer read the topic")
            }
        }
    }
}
