import EddyCore
import Foundation
import NIOHTTP1
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Keeps `/.eddy/openapi.json` true: it is served, it is OpenAPI 3.1, and its paths are exactly
/// the reserved endpoints the server routes. Routes are found two ways that do not depend on the
/// document: every `/.eddy/…`, `/.well-known/…` and `/healthz` path spelled in the server's
/// sources (also `prefix + "/x"` constants) and every file served from `Web/`. A route added
/// without documentation, or documentation of a route that is gone, fails here.
@Suite struct OpenAPITests {
    static let probeSegment = "openapi-probe"

    @Test func theDocumentIsServedAsOpenAPI31() async throws {
        try await TestServer.with { server in
            let response = try await server.send(.GET, "/.eddy/openapi.json")
            #expect(response.status == 200)
            #expect(response.header("Content-Type") == "application/json")
            let document = try Self.parse(response.body)
            let version = try #require(document["openapi"] as? String)
            #expect(version.hasPrefix("3.1."), "openapi is \(version)")
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            #expect(!paths.isEmpty)

            var references: [String] = []
            Self.collectReferences(document, into: &references)
            for reference in Set(references) {
                #expect(Self.resolve(reference, in: document) != nil, "\(reference) does not resolve")
            }
            for (path, item) in paths {
                for (method, value) in item where Self.methods.contains(method) {
                    let operation = try #require(value as? [String: Any], "\(method) \(path)")
                    let responses = try #require(operation["responses"] as? [String: Any], "\(method) \(path) has no responses")
                    for (status, response) in responses where status.hasPrefix("4") || status.hasPrefix("5") {
                        guard method != "head", let resolved = Self.dereference(response, in: document),
                            let content = resolved["content"] as? [String: Any]
                        else { continue }
                        #expect(Array(content.keys) == ["application/problem+json"], "\(method) \(path) \(status)")
                    }
                }
            }
        }
    }

    @Test func everyReservedRouteIsDocumentedAndEveryDocumentedOneIsRouted() async throws {
        let sourceRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/EddyServer")
        let candidates = try Self.routesSpelledInSources(sourceRoot).union(Self.servedWebFiles(sourceRoot.appendingPathComponent("Web")))
        #expect(candidates.contains("/.eddy/events") && candidates.contains("/.eddy/concrnt/commit"), "the source scan found \(candidates)")

        try await TestServer.with { server in
            let document = try Self.parse(try await server.send(.GET, "/.eddy/openapi.json").body)
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            let reserved = paths.keys.filter { $0.hasPrefix("/.") || $0 == "/healthz" }
            let port = server.port

            for template in reserved {
                let path = template.replacingOccurrences(of: #"\{[^}]+\}"#, with: Self.probeSegment, options: .regularExpression)
                let probe = try await blocking { try Self.probe(path, port: port) }
                #expect(probe.routed, "\(template) is documented, but \(path) is not routed")
                // Streams stay open, so Schemathesis leaves them out: their first answer is checked here.
                guard let get = paths[template]?["get"] as? [String: Any], let responses = get["responses"] as? [String: Any] else { continue }
                guard let response = responses[String(probe.status)] else {
                    Issue.record("GET \(path) answered \(probe.status), which \(template) does not document")
                    continue
                }
                if let content = Self.dereference(response, in: document)?["content"] as? [String: Any], let type = probe.mediaType {
                    #expect(content[type] != nil, "GET \(path) answered \(probe.status) as \(type), not as documented: \(content.keys.sorted())")
                }
            }
            var probes: Set<String> = []
            for candidate in candidates {
                probes.insert(candidate)
                probes.insert(candidate + (candidate.hasSuffix("/") ? "" : "/") + Self.probeSegment)
            }
            for path in probes.sorted() {
                let routed = try await blocking { try Self.probe(path, port: port) }.routed
                let documented = Self.isDocumented(path, by: reserved)
                #expect(routed == documented, "\(path) is \(routed ? "" : "not ")routed but \(documented ? "" : "not ")documented")
            }
        }
    }

    /// The Concrnt read endpoints take GET and HEAD only, as documented: any other method is a
    /// 405 with Allow, not a read.
    @Test func concrntReadEndpointsRefuseOtherMethods() async throws {
        try await TestServer.with { server in
            for path in ["/.eddy/concrnt/resource/cc%3A%2F%2Fx%2Fy", "/.eddy/concrnt/entity/\(Self.probeSegment)"] {
                for method: HTTPMethod in [.POST, .PUT, .DELETE] {
                    let response = try await server.send(method, path, json: "{}")
                    #expect(response.status == 405, "\(method) \(path) answered \(response.status)")
                    #expect(response.header("Allow") == "GET, HEAD")
                }
            }
        }
    }

    // MARK: The document

    static let methods: Set<String> = ["get", "head", "put", "patch", "post", "delete", "options"]

    static func parse(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    static func collectReferences(_ node: Any, into references: inout [String]) {
        if let object = node as? [String: Any] {
            if let reference = object["$ref"] as? String { references.append(reference) }
            for value in object.values { collectReferences(value, into: &references) }
        } else if let array = node as? [Any] {
            for value in array { collectReferences(value, into: &references) }
        }
    }

    static func resolve(_ reference: String, in document: [String: Any]) -> Any? {
        guard reference.hasPrefix("#/") else { return nil }
        var node: Any = document
        for key in reference.dropFirst(2).split(separator: "/") {
            guard let next = (node as? [String: Any])?[String(key)] else { return nil }
            node = next
        }
        return node
    }

    static func dereference(_ node: Any, in document: [String: Any]) -> [String: Any]? {
        guard let object = node as? [String: Any] else { return nil }
        guard let reference = object["$ref"] as? String else { return object }
        return resolve(reference, in: document) as? [String: Any]
    }

    /// A path is documented when a template matches it (a parameter is one segment), or when it
    /// lies below a parameterised template's literal prefix: resource paths after a prefix such
    /// as `/.eddy/value-stream/` may have any number of segments.
    static func isDocumented(_ path: String, by templates: [String]) -> Bool {
        templates.contains { template in
            let pattern = "^" + template.split(separator: "{", omittingEmptySubsequences: false).enumerated().map { index, piece in
                guard index > 0, let close = piece.firstIndex(of: "}") else { return NSRegularExpression.escapedPattern(for: String(piece)) }
                return "[^/]+" + NSRegularExpression.escapedPattern(for: String(piece[piece.index(after: close)...]))
            }.joined() + "$"
            if path.range(of: pattern, options: .regularExpression) != nil { return true }
            guard let brace = template.firstIndex(of: "{") else { return false }
            let prefix = template[..<brace]
            return prefix.hasSuffix("/") && prefix.count > 1 && path.hasPrefix(prefix)
        }
    }

    // MARK: The routes

    /// Every reserved path literal in the server's sources, and every `static let x = y + "…"`
    /// built from one.
    static func routesSpelledInSources(_ root: URL) throws -> Set<String> {
        let files = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL }
            .filter { $0.pathExtension == "swift" } ?? []
        #expect(!files.isEmpty, "no sources under \(root.path)")
        let literal = try Regex(#"/(\.eddy|\.well-known|healthz)(/[A-Za-z0-9._-]*)*"#)
        let constant = try Regex(#"static let (\w+) = "([^"]*)""#)
        let composed = try Regex(#"static let (\w+) = (\w+) \+ "([^"]*)""#)
        var routes: Set<String> = []
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            for match in text.matches(of: literal) { routes.insert(String(text[match.range])) }
            var constants: [String: String] = [:]
            for match in text.matches(of: constant) {
                if let name = match.output[1].substring, let value = match.output[2].substring { constants[String(name)] = String(value) }
            }
            for match in text.matches(of: composed) {
                guard let base = match.output[2].substring, let suffix = match.output[3].substring,
                    let resolved = constants[String(base)], resolved.hasPrefix("/.")
                else { continue }
                routes.insert(resolved + suffix)
            }
        }
        return routes
    }

    /// `WebAssets` serves each file of `Web/` at `/.eddy/<its relative path>`.
    static func servedWebFiles(_ web: URL) -> Set<String> {
        let root = web.standardizedFileURL.path
        let files = FileManager.default.enumerator(at: web, includingPropertiesForKeys: [.isRegularFileKey])?.compactMap { $0 as? URL } ?? []
        return Set(
            files.filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true }
                .map { "/.eddy" + $0.standardizedFileURL.path.dropFirst(root.count) })
    }

    struct Probe {
        /// Whether the server routes the path to a handler: anything but the responder's own 404
        /// for an unknown reserved path.
        let routed: Bool
        let status: Int
        /// The Content-Type without parameters.
        let mediaType: String?
    }

    /// A GET of `path`, read only as far as the head (and a `Content-Length` body): event streams
    /// stay open.
    static func probe(_ path: String, port: Int) throws -> Probe {
        let connection = try RawConnection(port: port, timeoutSeconds: 10)
        try connection.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            if String(decoding: received, as: UTF8.self).contains("\r\n\r\n") {
                let reply = RawHTTP.parse(received)
                func header(_ name: String) -> String? {
                    reply.head.split(separator: "\r\n").first { $0.lowercased().hasPrefix(name + ":") }
                        .map { $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces) }
                }
                if reply.body.utf8.count >= header("content-length").flatMap({ Int($0) }) ?? 0 {
                    let mediaType = header("content-type").map { $0.split(separator: ";")[0].trimmingCharacters(in: .whitespaces).lowercased() }
                    let problem = reply.status == 404 ? try? JSONValue(parsing: reply.body) : nil
                    let unknown = problem?["type"] == .string("urn:eddy:problem:not-found") && problem?["detail"] == .string("\(path) does not exist")
                    return Probe(routed: !unknown, status: reply.status, mediaType: mediaType)
                }
            }
            let count = recv(connection.fd, &buffer, buffer.count, 0)
            guard count > 0 else { throw ProbeError(path: path, received: String(decoding: received, as: UTF8.self)) }
            received.append(contentsOf: buffer[0..<count])
        }
    }

    struct ProbeError: Error, CustomStringConvertible {
        let path: String
        let received: String
        var description: String { "GET \(path): incomplete reply \(received.debugDescription)" }
    }
}
