import AsyncHTTPClient
import EddyCore
import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import Synchronization
import Testing

/// A WebSocket client session for tests: send text, read JSON messages (or, with `runText`,
/// text messages) with a deadline. Messages are read by the handler's own iterator, one read at
/// a time, so the client's close handshake afterwards is not disturbed by a second reader.
struct SocketScript {
    typealias Send = @Sendable (String) async throws -> Void

    static func run(
        _ url: String, headers: HTTPFields = [:],
        _ body: @escaping @Sendable (_ send: Send, _ next: @Sendable () async throws -> JSONValue) async throws -> Void
    ) async throws {
        try await session(url, headers: headers) { send, box in try await body(send, { try await withTimeout(10) { try await box.next() } }) }
    }

    /// As `run`, for a protocol of text lines, offering `subprotocol` when there is one.
    static func runText(
        _ url: String, subprotocol: String?, headers: HTTPFields = [:],
        _ body: @escaping @Sendable (_ send: Send, _ next: @Sendable () async throws -> String) async throws -> Void
    ) async throws {
        var headers = headers
        if let subprotocol { headers[.secWebSocketProtocol] = subprotocol }
        try await session(url, headers: headers) { send, box in try await body(send, { try await withTimeout(10) { try await box.nextText() } }) }
    }

    private static func session(
        _ url: String, headers: HTTPFields, _ body: @escaping @Sendable (_ send: Send, _ box: MessageBox) async throws -> Void
    ) async throws {
        var logger = Logger(label: "ws-test")
        logger.logLevel = .error
        var configuration = WebSocketClientConfiguration()
        configuration.additionalHeaders = headers
        let failure = Mutex<(any Error)?>(nil)
        try await WebSocketClient.connect(url: url, configuration: configuration, logger: logger) { inbound, outbound, _ in
            let box = MessageBox(inbound.messages(maxSize: 1 << 20).makeAsyncIterator())
            do {
                try await body({ text in try await outbound.write(.text(text)) }, box)
            } catch {
                failure.withLock { $0 = error }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
    }
}

/// Hands the socket's message iterator to whichever task reads next; reads never overlap.
final class MessageBox: @unchecked Sendable {
    private var iterator: WebSocketInboundMessageStream.AsyncIterator

    init(_ iterator: WebSocketInboundMessageStream.AsyncIterator) { self.iterator = iterator }

    /// The next message that is JSON.
    func next() async throws -> JSONValue {
        while true {
            let text = try await nextText()
            if let json = try? JSONValue(parsing: text) { return json }
        }
    }

    /// The next text message.
    func nextText() async throws -> String {
        while let message = try await iterator.next() {
            if case .text(let text) = message { return text }
        }
        throw TestFailure("socket closed")
    }
}

@Suite struct MultiplexSocketTests {
    @Test func hundredSubscriptionsOnOneSocketEchoIDsAndDeliverEvents() async throws {
        try await TestServer.with { server in
            for index in 0..<100 { _ = try await server.send(.PUT, "/wsr/\(index)", json: #"{"v":0}"#) }
            let wsURL = try #require(try await server.send(.GET, "/wsr/0").links["multiplex-ws"])
            try await SocketScript.run(wsURL) { send, next in
                for index in 0..<100 {
                    try await send(#"{"id":\#(index + 1),"type":"subscribe","mode":"value","uri":"/wsr/\#(index)"}"#)
                }
                try await send(#"{"id":"c1","type":"subscribe","mode":"changes","uri":"/wsr/"}"#)
                var acked = Set<JSONValue>()
                for _ in 0..<101 {
                    let ack = try await next()
                    #expect(ack["type"] == .string("subscribed"))
                    acked.insert(ack["id"] ?? .null)
                }
                #expect(acked == Set((1...100).map { JSONValue.int(Int64($0)) } + [.string("c1")]))

                for index in 0..<100 { _ = try await server.send(.PUT, "/wsr/\(index)", json: #"{"v":\#(index)}"#) }
                var values: [String: JSONValue] = [:]
                var changes: [JSONValue] = []
                while values.count < 100 || changes.count < 100 {
                    let event = try await next()
                    #expect(event["type"] == .string("event"))
                    guard case .string(let uri)? = event["uri"] else { continue }
                    if uri == "/wsr/" {
                        changes.append(event)
                    } else {
                        #expect(event["headers"]?["ETag"] != nil)
                        values[uri] = event["body"]
                    }
                }
                for index in 0..<100 { #expect(values["/wsr/\(index)"] == .object(["v": .int(Int64(index))])) }
                // Changes events chain: each prev-changes is the previous event's changes link.
                let links = changes.compactMap { event -> [String: String]? in
                    guard case .string(let link)? = event["headers"]?["Link"] else { return nil }
                    return LinkHeaders.parse(.init([("Link", link)]))
                }
                for index in 1..<links.count { #expect(links[index]["prev-changes"] == links[index - 1]["changes"]) }

                try await send(#"{"id":7,"type":"unsubscribe","mode":"value","uri":"/wsr/0"}"#)
                #expect(try await next() == (try JSONValue(parsing: #"{"id":7,"type":"unsubscribed"}"#)))
            }
        }
    }

    @Test func malformedMessagesGetErrorsAndTheSocketStaysOpen() async throws {
        try await TestServer.with(configure: { $0.maximumSubscriptionsPerConnection = 2 }) { server in
            _ = try await server.send(.PUT, "/bad/x", json: "{}")
            try await SocketScript.run(LiveEndpointsURL.ws(server)) { send, next in
                try await send("not json")
                #expect(try await next()["type"] == .string("error"))
                try await send(#"{"id":1,"type":"dance"}"#)
                let unknown = try await next()
                #expect(unknown["type"] == .string("error"))
                #expect(unknown["id"] == .int(1))
                try await send(#"{"id":"s","type":"subscribe","mode":"sideways","uri":"/bad/x"}"#)
                #expect(try await next()["id"] == .string("s"))
                try await send(#"{"id":2,"type":"subscribe","mode":"changes","uri":"/bad/x"}"#)
                #expect(try await next()["code"] == .int(400))
                // The per-socket subscription limit.
                try await send(#"{"id":3,"type":"subscribe","uri":"/bad/x"}"#)
                try await send(#"{"id":4,"type":"subscribe","mode":"changes","uri":"/bad/"}"#)
                try await send(#"{"id":5,"type":"subscribe","uri":"/bad/y"}"#)
                #expect(try await next()["type"] == .string("subscribed"))
                #expect(try await next()["type"] == .string("subscribed"))
                let refused = try await next()
                #expect(refused["code"] == .int(429))
                // Still serving: an event arrives after all that.
                _ = try await server.send(.PUT, "/bad/x", json: #"{"ok":true}"#)
                var sawEvent = false
                for _ in 0..<2 where !sawEvent {
                    let event = try await next()
                    if event["uri"] == .string("/bad/x") { sawEvent = event["body"] == .object(["ok": .bool(true)]) }
                }
                #expect(sawEvent)
            }
        }
    }

    @Test func negotiatesTheLiveresourceSubprotocolWhenOffered() async throws {
        try await TestServer.with { server in
            let port = server.port
            let (offered, plain) = try await blocking {
                func handshake(_ protocolHeader: String?) throws -> String {
                    let connection = try RawConnection(port: port, timeoutSeconds: 1)
                    var request = "GET /.eddy/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                    if let protocolHeader { request += "Sec-WebSocket-Protocol: \(protocolHeader)\r\n" }
                    try connection.send(request + "\r\n")
                    return String(decoding: connection.readUntilClosed(), as: UTF8.self)
                }
                return (try handshake("liveresource"), try handshake(nil))
            }
            #expect(offered.hasPrefix("HTTP/1.1 101"))
            #expect(offered.lowercased().contains("sec-websocket-protocol: liveresource"))
            #expect(plain.hasPrefix("HTTP/1.1 101"))
            #expect(!plain.lowercased().contains("sec-websocket-protocol"))
            let notUpgraded = try await server.send(.GET, "/.eddy/ws")
            #expect(notUpgraded.status == 426)
        }
    }
}

enum LiveEndpointsURL {
    static func ws(_ server: TestServer) -> String {
        server.baseURL.replacingOccurrences(of: "http://", with: "ws://") + "/.eddy/ws"
    }
}
