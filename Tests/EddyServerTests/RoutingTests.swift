import EddyCore
import Foundation
import NIOHTTP1
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The router's answers for every endpoint family: a method the path lacks is a 405 whose
/// `Allow` lists exactly the methods that are routed there, and HEAD on every GET endpoint that
/// takes it answers as GET does, without the body.
@Suite struct RoutingTests {
    /// One path of each family and the methods it takes.
    static let families: [(path: String, allowed: [String])] = [
        ("/healthz", ["GET", "HEAD"]),
        ("/.eddy/client.js", ["GET", "HEAD"]),
        ("/.eddy/openapi.json", ["GET", "HEAD"]),
        ("/.eddy/app", ["GET", "HEAD"]),
        ("/.eddy/app/", ["GET", "HEAD"]),
        ("/.eddy/events", ["GET"]),
        ("/.eddy/value-stream/a", ["GET"]),
        ("/.eddy/changes-stream/c/", ["GET"]),
        ("/.eddy/value-callbacks/a/", ["GET", "HEAD", "POST"]),
        ("/.eddy/value-callbacks/a/http%3A%2F%2Fexample.com%2F", ["GET", "HEAD", "DELETE"]),
        ("/.eddy/changes-callbacks/", ["GET", "HEAD", "POST"]),
        ("/.eddy/changes-callbacks/c/", ["GET", "HEAD", "POST"]),
        ("/.eddy/multi/", ["GET"]),
        ("/.eddy/multi-stream/", ["GET"]),
        ("/.eddy/ws", ["GET", "HEAD"]),
        ("/.well-known/concrnt", ["GET", "HEAD"]),
        ("/.eddy/concrnt/commit", ["POST"]),
        ("/.eddy/concrnt/resource/cc%3A%2F%2Fx%2Fy", ["GET", "HEAD"]),
        ("/.eddy/concrnt/entity/x", ["GET", "HEAD"]),
        ("/.eddy/concrnt/realtime", ["GET", "HEAD"]),
        ("/.eddy/concrnt/resolve", ["GET", "HEAD"]),
        ("/.eddy/concrnt/timeline/cc%3A%2F%2Fx%2Fy", ["GET", "HEAD"]),
        ("/.eddy/concrnt/recent", ["GET", "HEAD"]),
        ("/.eddy/timeline/c/", ["GET", "HEAD"]),
        ("/.well-known/solid", ["GET", "HEAD"]),
        ("/.eddy/solid/subscription/WebSocketChannel2023", ["GET", "HEAD", "OPTIONS", "POST"]),
        ("/.eddy/solid/channel/x", ["GET", "HEAD", "DELETE"]),
        ("/.eddy/solid/receive/x", ["GET"]),
        ("/.eddy/solid-0.1", ["GET", "HEAD"]),
        ("/", ["GET", "HEAD", "OPTIONS", "POST"]),
        ("/c/", ["GET", "HEAD", "OPTIONS", "POST"]),
        ("/a", ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"]),
        ("/healthz/", ["GET", "HEAD", "OPTIONS", "POST"]),
        ("/healthz/a", ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"]),
    ]

    static let methods = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]

    @Test func everyMethodAPathLacksIs405WithAnAllowOfExactlyTheRoutedOnes() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/a", json: #"{"x":1}"#)
            _ = try await server.send(.POST, "/c/", json: #"{"y":2}"#)
            _ = try await server.send(.PUT, "/healthz/a", json: #"{"z":3}"#)
            let port = server.port
            for (path, allowed) in Self.families {
                for method in Self.methods {
                    let reply = try await blocking { try Self.probe(method, path, port: port) }
                    if allowed.contains(method) {
                        #expect(reply.status != 405, "\(method) \(path) is in Allow but answered 405")
                        #expect(!reply.isUnknown(path), "\(method) \(path) is in Allow but is not routed")
                    } else {
                        #expect(reply.status == 405, "\(method) \(path) answered \(reply.status), not 405")
                        #expect(reply.header("allow") == allowed.joined(separator: ", "), "\(method) \(path)")
                        #expect(reply.header("content-type") == "application/problem+json", "\(method) \(path)")
                    }
                }
            }
        }
    }

    @Test func headOnEveryGETEndpointAnswersAsGETWithoutTheBody() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/a", json: #"{"x":1}"#)
            _ = try await server.send(.POST, "/c/", json: #"{"y":2}"#)
            let extra: [(String, [(String, String)])] = [
                ("/c/", [("Accept", "application/chunked-timeline+json")]),
                ("/nothing-here", []),
                ("/a", [("If-None-Match", "\"nope\"")]),
            ]
            let targets = Self.families.filter { $0.allowed.contains("HEAD") }.map { ($0.path, [(String, String)]()) } + extra
            for (path, headers) in targets {
                let get = try await server.send(.GET, path, headers: headers, json: nil)
                let head = try await server.send(.HEAD, path, headers: headers, json: nil)
                #expect(head.status == get.status, "HEAD \(path)")
                #expect(head.body.isEmpty, "HEAD \(path) has a body")
                #expect(head.header("Content-Length") == String(get.body.utf8.count), "HEAD \(path)")
                #expect(Self.comparable(head.headers) == Self.comparable(get.headers), "HEAD \(path)")
            }
        }
    }

    /// The router matches a key built from the raw bytes (`RoutingKey`), so what Hummingbird's
    /// trie would fold together — empty segments, a trailing slash, a `/healthz` prefix, a path
    /// under `/.` nobody routes — still reaches what it reached before the router.
    @Test func pathsAreRoutedByTheirExactBytes() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/healthz/a", json: #"{"z":3}"#)
            let port = server.port
            let expected: [(String, String, Int)] = [
                ("GET", "/.eddy/events/", 404),
                ("GET", "/.eddy//events", 404),
                ("GET", "/.eddy/multi", 404),
                ("GET", "/.eddy/multi/%", 404),
                ("GET", "/.eddy/app/nope", 404),
                ("GET", "/.foo", 404),
                ("DELETE", "/.foo/bar", 404),
                ("GET", "/healthz", 200),
                ("GET", "/healthz/", 200),
                ("GET", "/healthz/a", 200),
                ("GET", "/healthz/a/", 404),
                ("GET", "/a//b", 400),
                ("PUT", "/%", 400),
                ("GET", "/%/", 400),
                ("GET", "/.eddy/value-callbacks/", 400),
                ("GET", "/.eddy/changes-callbacks/", 200),
            ]
            for (method, path, status) in expected {
                let reply = try await blocking { try Self.probe(method, path, port: port) }
                #expect(reply.status == status, "\(method) \(path) answered \(reply.status): \(reply.body)")
                #expect(reply.header("content-type") == (status == 200 ? "application/json" : "application/problem+json"), "\(method) \(path)")
            }
            let listing = try await blocking { try Self.probe("GET", "/healthz/", port: port) }
            #expect(listing.body.contains("\"z\":3"), "/healthz/ is the collection holding /healthz/a")
        }
    }

    static func comparable(_ headers: HTTPHeaders) -> [String] {
        headers.filter { $0.name.lowercased() != "date" }.map { $0.name.lowercased() + ": " + $0.value }.sorted()
    }

    struct Reply {
        let status: Int
        let headers: [(String, String)]
        let body: String

        func header(_ name: String) -> String? { headers.first { $0.0 == name }?.1 }

        /// The router's answer for a path it has no route for at all.
        func isUnknown(_ path: String) -> Bool {
            let problem = status == 404 ? try? JSONValue(parsing: body) : nil
            return problem?["detail"] == .string("\(path) does not exist")
        }
    }

    /// The status and head of one answer, without waiting for a stream's body to end.
    static func probe(_ method: String, _ path: String, port: Int) throws -> Reply {
        let connection = try RawConnection(port: port, timeoutSeconds: 10)
        try connection.send("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let text = String(decoding: received, as: UTF8.self)
            if let end = text.range(of: "\r\n\r\n") {
                let lines = text[..<end.lowerBound].split(separator: "\r\n")
                let status = lines.first?.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
                let headers = lines.dropFirst().compactMap { line -> (String, String)? in
                    guard let colon = line.firstIndex(of: ":") else { return nil }
                    return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
                }
                let length = headers.first { $0.0 == "content-length" }.flatMap { Int($0.1) } ?? 0
                let body = String(text[end.upperBound...])
                if method == "HEAD" || body.utf8.count >= length {
                    return Reply(status: status, headers: headers, body: body)
                }
            }
            let count = recv(connection.fd, &buffer, buffer.count, 0)
            guard count > 0 else { return Reply(status: 0, headers: [], body: text) }
            received.append(contentsOf: buffer[0..<count])
        }
    }
}
