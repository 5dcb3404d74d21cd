import EddyCore
import EddyTestSupport
import Foundation
import NIOCore
import Testing

@testable import EddyServer

/// Sockets that get the same message for an event share one framed buffer, built by the first
/// of them and kept with the event (`HubEvent.encoded`): each test opens several sockets of one
/// kind, makes one write, and then finds under the shared key the very bytes every socket read.
/// Asking for an encoding the sockets did not build records an issue.
@Suite struct SharedSocketFramesTests {
    @Test func multiplexChangesMessagesAreFramedOncePerPreviousCheckpoint() async throws {
        try await TestServer.with { server in
            let first = try await server.send(.PUT, "/feed/a", json: #"{"n":0}"#)
            var sockets: [RawConnection] = []
            for _ in 0..<3 { sockets.append(try await Self.subscribeToChanges(server)) }
            // A later subscriber's previous checkpoint is the head when it joined: another one.
            let elsewhere = try await server.send(.PUT, "/elsewhere/x", json: "{}")
            let late = try await Self.subscribeToChanges(server)
            let events = try await server.server.hub.events(Subscription(.children(try ResourcePath(parsing: "/feed/")), watcher: .server))
            _ = try await server.send(.PUT, "/feed/b", json: #"{"n":1}"#)
            let event = try #require(try await Self.first(of: events))

            let all = sockets + [late]
            let texts = try await blocking { try all.map { try RawSocket.nextText($0) } }
            let shared = event.encoded(as: MultiplexSocket.EventSink.changesKey(base: server.baseURL, uri: "/feed/")) {
                Issue.record("the sockets did not build the changes message under its shared key")
                return SocketChangesMessage(
                    uri: "/feed/", base: server.baseURL, path: try! ResourcePath(parsing: "/feed/"), epoch: server.server.store.epoch,
                    change: event.change)
            }
            #expect(shared.heldFrames == 2)
            let before = try #require(Self.sequence(etag: first.header("ETag")))
            let lateBefore = try #require(Self.sequence(etag: elsewhere.header("ETag")))
            for text in texts.prefix(3) {
                #expect(text == shared.message(after: before))
                #expect(Self.payload(shared.frame(after: before)) == text)
            }
            #expect(texts[3] == shared.message(after: lateBefore))
            #expect(texts[3] != texts[0])
            // Each message is whole and names its own previous checkpoint.
            let message = try JSONValue(parsing: texts[0])
            guard case .array(let items)? = message["body"], items.count == 1 else { throw TestFailure("no body in \(texts[0])") }
            #expect(items[0]["id"] == .string("b") && items[0]["n"] == .int(1))
            guard case .string(let link)? = message["headers"]?["Link"] else { throw TestFailure("no Link in \(texts[0])") }
            #expect(link.contains("rel=changes") && link.contains("rel=prev-changes"))
            #expect(link.contains("?after=" + Checkpoint(epoch: server.server.store.epoch, sequence: before).token + ">; rel=prev-changes"))
            #expect(texts[3].contains("?after=" + Checkpoint(epoch: server.server.store.epoch, sequence: lateBefore).token + ">; rel=prev-changes"))
        }
    }

    @Test func solidSocketsOfOneTopicShareTheNotificationsFrame() async throws {
        try await TestServer.with(configure: SolidTests.configure) { server in
            _ = try await server.send(.PUT, "/notes/topic", json: #"{"v":0}"#)
            let topic = server.baseURL + "/notes/topic"
            var sockets: [RawConnection] = []
            for type in ["WebSocketChannel2023", "WebSocketChannel2023", "WebSocketSubscription2021"] {
                let service = try await SolidTests.discoverService(topic, type: type)
                let channel = try #require(try await SolidTests.subscribe(service, type: type, topic: topic).json)
                guard case .string(let url)? = channel["receiveFrom"] ?? channel["source"], let path = URL(string: url)?.path else {
                    throw TestFailure("no socket URL in \(channel)")
                }
                let before = server.server.hub.subscriberCount
                sockets.append(try await blocking { try Self.openSocket(port: server.port, path: path) })
                try await waitUntil("the socket subscribed") { server.server.hub.subscriberCount > before }
            }
            let events = try await server.server.hub.events(Subscription(.value(try ResourcePath(parsing: "/notes/topic")), watcher: .server))
            _ = try await server.send(.PUT, "/notes/topic", json: #"{"v":1}"#)
            let event = try #require(try await Self.first(of: events))

            let opened = sockets
            let texts = try await blocking { try opened.map { try RawSocket.nextText($0) } }
            let like = SolidChannel(
                id: topic, type: .webSocket2023, topic: topic, path: try ResourcePath(parsing: "/notes/topic"), token: "", subject: nil,
                state: nil, rate: nil, startAt: nil, endAt: nil, sendTo: nil, base: server.baseURL)
            let frame = event.encoded(as: SolidSocket.frameKey(of: like)) {
                Issue.record("the sockets did not frame the notification under its shared key")
                return ByteBuffer()
            }
            #expect(texts.allSatisfy { $0 == Self.payload(frame) })
            #expect(try JSONValue(parsing: texts[0])["type"] == .string("Update"))
        }
    }

    @Test func concrntRealtimeSocketsShareTheEventsFrame() async throws {
        try await TestServer.with { server in
            let alice = Entity()
            let resource = "cc://\(alice.ccid)/post/1"
            var sockets: [RawConnection] = []
            for _ in 0..<3 {
                let before = server.server.hub.subscriberCount
                let socket = try await blocking { try Self.openSocket(port: server.port, path: Concrnt.realtimePath) }
                try socket.sendText(#"{"action":"subscribe","resources":["\#(resource)"]}"#)
                // The resource and its members: two subscriptions, and no acknowledgement.
                try await waitUntil("the socket subscribed") { server.server.hub.subscriberCount == before + 2 }
                sockets.append(socket)
            }
            let path = try ConcrntURI(parsing: resource).path
            let events = try await server.server.hub.events(Subscription(.value(path), watcher: .server))
            #expect(try await ConcrntTests.commit(server, alice.signed(alice.document(key: "post/1"))).status == 201)
            let event = try #require(try await Self.first(of: events))

            let opened = sockets
            let texts = try await blocking { try opened.map { try RawSocket.nextText($0) } }
            let frame = event.encoded(as: ConcrntRealtime.Sink.frameKey(source: resource, dialect: .spec, members: false)) {
                Issue.record("the sockets did not frame the event under its shared key")
                return nil
            }
            let shared = try #require(frame)
            #expect(texts.allSatisfy { $0 == Self.payload(shared) })
            #expect(try JSONValue(parsing: texts[0])["resource"] == .string(resource))
        }
    }

    // MARK: Helpers

    /// A raw socket subscribed to `/feed/` changes, after its acknowledgement.
    static func subscribeToChanges(_ server: TestServer) async throws -> RawConnection {
        try await blocking {
            let socket = try RawSocket.open(port: server.port, path: "/.eddy/ws", protocol: "liveresource")
            try socket.sendText(#"{"id":1,"type":"subscribe","mode":"changes","uri":"/feed/"}"#)
            let ack = try RawSocket.nextText(socket)
            guard ack == #"{"id":1,"type":"subscribed"}"# else { throw TestFailure("no ack: \(ack)") }
            return socket
        }
    }

    /// A raw client socket offering no subprotocol.
    static func openSocket(port: Int, path: String) throws -> RawConnection {
        let connection = try RawConnection(port: port, timeoutSeconds: 10)
        try connection.send(
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        var head: [UInt8] = []
        while !(head.count >= 4 && head.suffix(4).elementsEqual("\r\n\r\n".utf8)) { head.append(try connection.readByte()) }
        guard String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 101") else {
            throw TestFailure("no upgrade: \(String(decoding: head, as: UTF8.self))")
        }
        return connection
    }

    static func first(of events: HubEventStream) async throws -> HubEvent? {
        defer { events.cancel() }
        return try await withTimeout(10) {
            var iterator = events.makeAsyncIterator()
            return try await iterator.next()
        }
    }

    /// The text of an unmasked server frame (`WebSocketFrames.text`).
    static func payload(_ frame: ByteBuffer) -> String {
        var frame = frame
        guard let lengthByte = frame.getInteger(at: frame.readerIndex + 1, as: UInt8.self) else { return "" }
        let header = lengthByte < 126 ? 2 : lengthByte == 126 ? 4 : 10
        frame.moveReaderIndex(forwardBy: header)
        return String(buffer: frame)
    }

    /// The log position an entity tag names.
    static func sequence(etag: String?) -> SequenceNumber? {
        guard let etag, let open = etag.firstIndex(of: "\""), etag.hasSuffix("\"") else { return nil }
        return ETag(opaque: String(etag[etag.index(after: open)...].dropLast())).checkpoint?.sequence
    }
}
