import Crypto
import EddyCore
import Foundation
import HTTPTypes
import Hummingbird

/// CIP-4 Chunked Timelines for every collection: entries are children, placed by their
/// creation time (a signed document's own `createdAt`), in chunks of `chunkSize` seconds.
///
/// Caching: bodies of chunks that have ended are immutable but for deletions, so they are
/// cacheable for a day; the current chunk, iterators and the timeline document only briefly.
/// Deletions inside old chunks become visible through the document's `removed` list (the
/// entries deleted during the last day), which is never cached longer than the current chunk.
struct ChunkedTimeline: Sendable {
    static let mediaType = "application/chunked-timeline+json"

    let store: any ResourceStore
    let chunkSize: Int
    let currentChunkMaxAge: Int
    let pastChunkMaxAge: Int

    /// floor(unix seconds / chunkSize), in UTC, rounded down (also before 1970).
    static func chunk(ofMilliseconds milliseconds: Int64, size: Int) -> Int64 {
        let seconds = milliseconds >= 0 ? milliseconds / 1000 : -((-milliseconds + 999) / 1000)
        let size = Int64(size)
        return seconds >= 0 ? seconds / size : -((-seconds + size - 1) / size)
    }

    private func chunk(of milliseconds: Int64) -> Int64 { Self.chunk(ofMilliseconds: milliseconds, size: chunkSize) }
    private func start(of chunk: Int64) -> Int64 { chunk * Int64(chunkSize) * 1000 }
    private var currentChunk: Int64 { chunk(of: Int64(Date().timeIntervalSince1970 * 1000)) }

    func respond(_ request: Request, collection: ResourcePath, exchange: Exchange) async throws -> Response {
        guard request.method == .get || request.method == .head else {
            throw Problem.methodNotAllowed(request.method, allowed: [.get, .head], target: "a chunked timeline")
        }
        guard collection.isCollection else { throw Problem.badRequest("invalid-path", "timelines belong to collections (paths ending in '/')") }
        guard try await store.collectionExists(collection) else { throw Problem.notFound(collection.description) }
        let query = request.uri.queryParameters
        let first = try await store.timelineNeighbour(of: collection, before: nil, atOrAfter: nil).map(chunk(of:)) ?? currentChunk
        let last = currentChunk
        if let direction = query["iterator"] ?? query["body"] {
            guard direction == "asc" || direction == "desc" else { throw Problem.badRequest("invalid-parameter", "direction must be asc or desc") }
            guard let raw = query["chunk"], let asked = Int64(raw) else {
                throw Problem.badRequest("invalid-parameter", "chunk must be an integer chunk id")
            }
            guard (first...max(first, last)).contains(asked) else {
                throw Problem(.notFound, "chunk-out-of-range", "chunk \(asked) is outside \(first)…\(last)")
            }
            if query["iterator"] != nil {
                return try await iterator(collection, asked: asked, ascending: direction == "asc", request: request)
            }
            return try await body(collection, chunk: asked, ascending: direction == "asc", request: request, exchange: exchange)
        }
        return try await document(collection, first: first, last: last, request: request, exchange: exchange)
    }

    private func document(_ collection: ResourcePath, first: Int64, last: Int64, request: Request, exchange: Exchange) async throws -> Response {
        let base = exchange.baseURL + Concrnt.timelinePrefix + collection.encoded
        func templates(_ direction: String) -> String {
            "{\"iterator\":\(JSONValue.quoted(base + "?iterator=\(direction)&chunk={chunk}")),\"body\":\(JSONValue.quoted(base + "?body=\(direction)&chunk={chunk}"))}"
        }
        let removed = try await recentlyRemoved(collection, exchange: exchange)
        let body = "{\"version\":\"1.0\",\"chunkSize\":\(chunkSize),\"firstChunk\":\(first),\"lastChunk\":\(last),"
            + "\"ascending\":\(templates("asc")),\"descending\":\(templates("desc")),"
            + "\"metadata\":{\"collection\":\(JSONValue.quoted(exchange.baseURL + collection.encoded)),"
            + "\"removed\":[\(removed.map(JSONValue.quoted).joined(separator: ","))]}}"
        return cached(body, maxAge: currentChunkMaxAge, request: request)
    }

    /// Hrefs of children deleted during the last day, from the change log.
    private func recentlyRemoved(_ collection: ResourcePath, exchange: Exchange) async throws -> [String] {
        let since = Int64(Date().timeIntervalSince1970 * 1000) - 86_400_000
        let floor = try await store.retainedFloor()
        let events = (try? await store.events(after: floor, matching: .children(collection), limit: 5000)) ?? []
        return events.filter { $0.kind == .deleted && $0.timestamp >= since }.map { exchange.baseURL + $0.path.encoded }
    }

    private func iterator(_ collection: ResourcePath, asked: Int64, ascending: Bool, request: Request) async throws -> Response {
        let found: Int64?
        if ascending {
            found = try await store.timelineNeighbour(of: collection, before: nil, atOrAfter: start(of: asked))
        } else {
            found = try await store.timelineNeighbour(of: collection, before: start(of: asked + 1), atOrAfter: nil)
        }
        guard let found else {
            throw Problem(.notFound, "no-chunk", "no chunk with entries \(ascending ? "at or after" : "at or before") \(asked)")
        }
        return cached(String(chunk(of: found)), maxAge: currentChunkMaxAge, request: request)
    }

    private func body(_ collection: ResourcePath, chunk id: Int64, ascending: Bool, request: Request, exchange: Exchange) async throws -> Response {
        let entries = try await store.timeline(of: collection, from: start(of: id), to: start(of: id + 1), descending: !ascending, limit: 10_000)
        let items = entries.map { entry -> String in
            let timestamp = JSONValue.quoted(Instant.format(Date(timeIntervalSince1970: Double(entry.createdAt) / 1000)))
            if let json = try? JSONValue(parsing: entry.value), json["member"] == .bool(true), case .string(let href)? = json["href"] {
                return "{\"timestamp\":\(timestamp),\"href\":\(JSONValue.quoted(href))}"
            }
            return "{\"timestamp\":\(timestamp),\"href\":\(JSONValue.quoted(exchange.baseURL + entry.path.encoded)),\"content\":\(entry.itemText)}"
        }
        let body = "[" + items.joined(separator: ",") + "]"
        return cached(body, maxAge: id < currentChunk ? pastChunkMaxAge : currentChunkMaxAge, request: request)
    }

    /// A response with a strong ETag of its bytes, honouring `If-None-Match`.
    private func cached(_ body: String, maxAge: Int, request: Request) -> Response {
        let digest = SHA256.hash(data: Data(body.utf8)).prefix(12).map { String(format: "%02x", $0) }.joined()
        let etag = ETag(opaque: digest)
        var headers: HTTPFields = [
            .eTag: etag.headerValue, .cacheControl: "public, max-age=\(maxAge)", .contentType: Self.mediaType,
        ]
        if let inm = request.headers[.ifNoneMatch].flatMap(ETagCondition.init(header:)), inm.matches(etag) {
            headers[.contentLength] = "0"
            return Response(status: .notModified, headers: headers)
        }
        let buffer = ByteBuffer(string: body)
        headers[.contentLength] = String(buffer.readableBytes)
        return Response(status: .ok, headers: headers, body: request.method == .head ? .init() : .init(byteBuffer: buffer))
    }
}
