import AsyncHTTPClient
import EddyCore
import EddyServer
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import Testing

/// Issue: every protocol surface answers anonymous callers, subjects without access, subjects
/// with access and expired tokens correctly, and a refused subscriber never receives an event.
@Suite struct SurfaceAccessTests {
    static let policy = #"{"rules":[{"path":"/team/","read":["bob"],"write":["alice"]},{"path":"/free","read":"anyone","write":"anyone"}]}"#

    enum Caller: String, CaseIterable {
        case anonymous, carol, bob, expired
    }

    static func headers(_ caller: Caller) async throws -> [(String, String)] {
        switch caller {
        case .anonymous: []
        case .carol: [try await Tokens.bearer("carol")]
        case .bob: [try await Tokens.bearer("bob")]
        case .expired: [try await Tokens.expired("bob")]
        }
    }

    /// What each caller must get: bob reads; carol is known but not allowed; the rest must authenticate.
    static func expected(_ caller: Caller) -> Int {
        switch caller {
        case .bob: 200
        case .carol: 403
        case .anonymous, .expired: 401
        }
    }

    private func withServer(_ body: (TestServer) async throws -> Void) async throws {
        let file = try Tokens.writePolicy(Self.policy)
        defer { try? FileManager.default.removeItem(at: file) }
        try await TestServer.with(configure: {
            $0.policyFile = file
            $0.jwtSecret = Tokens.secret
            $0.allowOutbound = [CIDR("127.0.0.0/8")!]
        }) { server in
            let alice = try await Tokens.bearer("alice")
            _ = try await server.send(.PUT, "/team/doc", headers: [alice], json: #"{"v":0}"#)
            try await body(server)
        }
    }

    @Test func httpSurfacesAnswerEachCallerCorrectly() async throws {
        try await withServer { server in
            let etag = try #require(try await server.send(.GET, "/team/doc", headers: try await Self.headers(.bob)).header("ETag"))
            let checkpoint = try #require(try await server.send(.GET, "/team/", headers: try await Self.headers(.bob)).links["changes"])
            let surfaces: [(String, HTTPMethod, String, [(String, String)], String?)] = [
                ("value-wait", .GET, "/team/doc", [("If-None-Match", etag), ("Wait", "1")], nil),
                ("changes-wait", .GET, String(checkpoint.dropFirst(server.baseURL.count)), [("Wait", "1")], nil),
                ("value-stream", .GET, "/.eddy/value-stream/team/doc", [], nil),
                ("changes-stream", .GET, "/.eddy/changes-stream/team/", [], nil),
                ("value-callback", .POST, "/.eddy/value-callbacks/team/doc/", [("Content-Type", "application/x-www-form-urlencoded")],
                 "callback_uri=http%3A%2F%2F127.0.0.1%3A9%2Fhook"),
            ]
            for (name, method, path, extra, body) in surfaces {
                for caller in Caller.allCases {
                    var request = HTTPClientRequest(url: server.baseURL + path)
                    request.method = method
                    for (header, value) in try await Self.headers(caller) + extra { request.headers.add(name: header, value: value) }
                    if let body { request.body = .bytes(ByteBuffer(string: body)) }
                    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
                    let status = Int(response.status.code)
                    let expected = Self.expected(caller)
                    if expected == 200 {
                        #expect((200..<400).contains(status), "\(name) as \(caller): \(status)")
                    } else {
                        #expect(status == expected, "\(name) as \(caller): \(status)")
                    }
                    // Streams stay open when allowed; drop them.
                    if expected != 200 { _ = try await response.body.collect(upTo: 1 << 16) }
                }
            }
        }
    }

    @Test func multiplexedSubscribersWithoutAccessNeverReceiveEvents() async throws {
        try await withServer { server in
            _ = try await server.send(.PUT, "/free", json: "{}")
            for caller in Caller.allCases where caller != .bob {
                let headers = try await Self.headers(caller)
                let refusedCode = Int64(Self.expected(caller))
                // multiplex-wait: the entry carries the refusal; no data for it.
                let waited = try await server.send(.GET, "/.eddy/multi/?u=%2Fteam%2Fdoc", headers: headers + [("Wait", "1")])
                if caller == .expired {
                    #expect(waited.status == 401)
                } else {
                    #expect(waited.json?["/team/doc"]?["code"] == .int(refusedCode))
                    #expect(waited.json?["/team/doc"]?["body"]?["v"] == nil)
                }
                // multiplex-stream: an error event for the URI, then nothing about it after a write.
                if caller != .expired {
                    let frames = try await withTimeout(10) {
                        var reader = try await SSEReader.open(
                            server.baseURL + "/.eddy/multi-stream/?u=%2Fteam%2Fdoc&u=%2Ffree", headers: headers)
                        var seen: [SSEReader.Event] = [try #require(try await reader.next())]
                        _ = try await server.send(.PUT, "/team/doc", headers: [try await Tokens.bearer("alice")], json: #"{"v":1}"#)
                        _ = try await server.send(.PUT, "/free", json: #"{"f":1}"#)
                        // The write to /free is the marker: everything before it has been sent.
                        while let event = try await reader.next() {
                            seen.append(event)
                            if event.data.contains("/free") { break }
                        }
                        return seen
                    }
                    #expect(frames.first?.event == "error")
                    #expect(!frames.dropFirst().contains { $0.data.contains("/team/doc") })
                }
            }
        }
    }

    @Test func webSocketSubscribersWithoutAccessNeverReceiveEvents() async throws {
        try await withServer { server in
            _ = try await server.send(.PUT, "/free", json: "{}")
            // An expired token cannot open the socket at all.
            var expiredHeaders = HTTPFields()
            expiredHeaders[.authorization] = try await Tokens.expired("bob").1
            await #expect(throws: (any Error).self) {
                try await SocketScript.run(LiveEndpointsURL.ws(server), headers: expiredHeaders) { _, _ in }
            }
            for caller in [Caller.anonymous, .carol, .bob] {
                var headers = HTTPFields()
                for (name, value) in try await Self.headers(caller) { headers[HTTPField.Name(name)!] = value }
                try await SocketScript.run(LiveEndpointsURL.ws(server), headers: headers) { send, next in
                    try await send(#"{"id":1,"type":"subscribe","mode":"value","uri":"/team/doc"}"#)
                    let answer = try await next()
                    if caller == .bob {
                        #expect(answer["type"] == .string("subscribed"))
                    } else {
                        #expect(answer["type"] == .string("error"))
                        #expect(answer["code"] == .int(Int64(Self.expected(caller))))
                    }
                    try await send(#"{"id":2,"type":"subscribe","mode":"value","uri":"/free"}"#)
                    #expect(try await next()["type"] == .string("subscribed"))
                    _ = try await server.send(.PUT, "/team/doc", headers: [try await Tokens.bearer("alice")], json: #"{"v":9}"#)
                    _ = try await server.send(.PUT, "/free", json: #"{"f":2}"#)
                    var uris: [JSONValue] = []
                    while uris.last != .string("/free") { uris.append(try await next()["uri"] ?? .null) }
                    #expect(uris.contains(.string("/team/doc")) == (caller == .bob), "\(caller) saw \(uris)")
                }
            }
        }
    }
}
