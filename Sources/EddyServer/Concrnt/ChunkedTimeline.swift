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
///
/// Access: the caller must read the collection, and every entry, removal and chunk boundary
/// is shown only when the caller may read that child — the per-child rule of listings — so a
/// stricter rule below the collection hides a child here too. Answers to callers with
/// credentials are cached privately: a shared cache must not hand them to anyone else.
struct ChunkedTimeline: Sendable {
    static let mediaType = "application/chunked-timeline+json"
    /// The deployed network's name for it since 2025-12-01; both are understood.
    static let chunklineMediaType = "application/chunkline+json"
    /// Chunks searched for one with a visible entry before an iterator gives up.
    static let maximumChunksSkipped = 64

    /// A collection's GET asks for its timeline instead of its listing with either media type.
    static func isAsked(by request: Request) -> Bool {
        guard let accept = request.headers[.accept] else { return false }
        return accept.contains(mediaType) || accept.contains(chunklineMediaType)
    }

    /// The media type an answer is labelled with: the deployed name to a client that asked by
    /// it, else the spec's.
    static func answeredMediaType(for request: Request) -> String {
        request.headers[.accept]?.contains(chunklineMediaType) == true ? chunklineMediaType : mediaType
    }

    let store: any ResourceStore
    let access: AccessController
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
    private var currentChunk: Int64 { chunk(of: Int64(Date().timeIntervalSince1970 * 1000)) }

    func respond(_ request: Request, collection: ResourcePath, exchange: Exchange) async throws -> Response {
        guard collection.isCollection else { throw Problem.badRequest("invalid-path", "timelines belong to collections (paths ending in '/')") }
        try access.authorize(exchange.identity, to: .read, at: collection)
        guard try await exists(collection) else { throw Problem.notFound(collection.description) }
        let view = View(
            store: store, collection: collection, chunkSize: chunkSize,
            admits: access.eventAdmission(for: .children(collection), identity: exchange.identity) ?? { _ in true })
        let query = request.uri.queryParameters
        let first = try await view.neighbour(ascending: true, from: nil).map(chunk(of:)) ?? currentChunk
        let last = currentChunk
        let isPrivate = exchange.identity.subject != nil
        if let direction = query["iterator"] ?? query["body"] {
            guard direction == "asc" || direction == "desc" else { throw Problem.badRequest("invalid-parameter", "direction must be asc or desc") }
            guard let raw = query["chunk"], let asked = Int64(raw) else {
                throw Problem.badRequest("invalid-parameter", "chunk must be an integer chunk id")
            }
            guard (first...max(first, last)).contains(asked) else {
                throw Problem(.notFound, "chunk-out-of-range", "chunk \(asked) is outside \(first)…\(last)")
            }
            if query["iterator"] != nil {
                return try await iterator(view, asked: asked, ascending: direction == "asc", request: request, isPrivate: isPrivate)
            }
            return try await body(view, chunk: asked, ascending: direction == "asc", request: request, exchange: exchange, isPrivate: isPrivate)
        }
        return try await document(view, first: first, last: last, request: request, exchange: exchange, isPrivate: isPrivate)
    }

    /// A collection exists while it has a child; a Concrnt timeline also from the moment its
    /// own document is committed, before its first member.
    private func exists(_ collection: ResourcePath) async throws -> Bool {
        if try await store.collectionExists(collection) { return true }
        guard collection.segments.count >= 3, collection.segments[0].hasSameBytes(as: ConcrntURI.root) else { return false }
        return try await store.resource(at: ResourcePath(segments: collection.segments, isCollection: false)) != nil
    }

    private func document(_ view: View, first: Int64, last: Int64, request: Request, exchange: Exchange, isPrivate: Bool) async throws -> Response {
        let collection = view.collection
        let base = exchange.baseURL + Concrnt.timelinePrefix + collection.encoded
        func templates(_ direction: String) -> String {
            "{\"iterator\":\(JSONValue.quoted(base + "?iterator=\(direction)&chunk={chunk}")),\"body\":\(JSONValue.quoted(base + "?body=\(direction)&chunk={chunk}"))}"
        }
        let removed = try await recentlyRemoved(view, exchange: exchange)
        let body = "{\"version\":\"1.0\",\"chunkSize\":\(chunkSize),\"firstChunk\":\(first),\"lastChunk\":\(last),"
            + "\"ascending\":\(templates("asc")),\"descending\":\(templates("desc")),"
            + "\"metadata\":{\"collection\":\(JSONValue.quoted(exchange.baseURL + collection.encoded)),"
            + "\"removed\":[\(removed.map(JSONValue.quoted).joined(separator: ","))]}}"
        return cached(body, maxAge: currentChunkMaxAge, request: request, isPrivate: isPrivate)
    }

    /// Hrefs of the children the caller may read that were deleted during the last day.
    private func recentlyRemoved(_ view: View, exchange: Exchange) async throws -> [String] {
        let since = Int64(Date().timeIntervalSince1970 * 1000) - 86_400_000
        let floor = try await store.retainedFloor()
        let events = (try? await store.events(after: floor, matching: .children(view.collection), limit: 5000)) ?? []
        return events.filter { $0.kind == .deleted && $0.timestamp >= since && view.admits($0.path) }.map { exchange.baseURL + $0.path.encoded }
    }

    private func iterator(_ view: View, asked: Int64, ascending: Bool, request: Request, isPrivate: Bool) async throws -> Response {
        let from = ascending ? asked : asked.addingReportingOverflow(1).partialValue
        guard let found = try await view.neighbour(ascending: ascending, from: from) else {
            throw Problem(.notFound, "no-chunk", "no chunk with entries \(ascending ? "at or after" : "at or before") \(asked)")
        }
        return cached(String(chunk(of: found)), maxAge: currentChunkMaxAge, request: request, isPrivate: isPrivate)
    }

    private func body(_ view: View, chunk id: Int64, ascending: Bool, request: Request, exchange: Exchange, isPrivate: Bool) async throws -> Response {
        let entries = try await view.entries(inChunk: id, descending: !ascending)
        let body = "[" + entries.map { Self.item(of: $0, baseURL: exchange.baseURL).text }.joined(separator: ",") + "]"
        return cached(body, maxAge: id < currentChunk ? pastChunkMaxAge : currentChunkMaxAge, request: request, isPrivate: isPrivate)
    }

    /// A timeline entry: a Concrnt member names its document by `href`; any other child is
    /// named by its URL and carried whole as `content`.
    static func item(of entry: StoredResource, baseURL: String) -> (href: String, text: String) {
        let timestamp = JSONValue.quoted(Instant.format(Date(timeIntervalSince1970: Double(entry.createdAt) / 1000)))
        if let json = try? JSONValue(parsing: entry.value), json["member"] == .bool(true), case .string(let href)? = json["href"] {
            return (href, "{\"timestamp\":\(timestamp),\"href\":\(JSONValue.quoted(href))}")
        }
        let href = baseURL + entry.path.encoded
        return (href, "{\"timestamp\":\(timestamp),\"href\":\(JSONValue.quoted(href)),\"content\":\(entry.itemText)}")
    }

    /// A response with a strong ETag of its bytes, honouring `If-None-Match`.
    private func cached(_ body: String, maxAge: Int, request: Request, isPrivate: Bool) -> Response {
        let digest = SHA256.hash(data: Data(body.utf8)).prefix(12).map { String(format: "%02x", $0) }.joined()
        let etag = ETag(opaque: digest)
        var headers: HTTPFields = [
            .eTag: etag.headerValue, .cacheControl: "\(isPrivate ? "private" : "public"), max-age=\(maxAge)",
            .contentType: Self.answeredMediaType(for: request),
            .vary: "Accept, Authorization, Cookie",
        ]
        if let inm = request.headers[.ifNoneMatch].flatMap(ETagCondition.init(header:)), inm.matches(etag) {
            headers[.contentLength] = "0"
            return Response(status: .notModified, headers: headers)
        }
        let buffer = ByteBuffer(string: body)
        headers[.contentLength] = String(buffer.readableBytes)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: buffer))
    }
}

extension ChunkedTimeline {
    /// One caller's view of a collection's timeline: only the children it may read.
    struct View: Sendable {
        let store: any ResourceStore
        let collection: ResourcePath
        let chunkSize: Int
        let admits: @Sendable (ResourcePath) -> Bool

        /// The first millisecond of a chunk; nil where that is beyond what an Int64 holds.
        func start(_ chunk: Int64) -> Int64? {
            let (milliseconds, overflow) = chunk.multipliedReportingOverflow(by: Int64(chunkSize) * 1000)
            return overflow ? nil : milliseconds
        }

        /// The visible entries of one chunk.
        func entries(inChunk id: Int64, descending: Bool) async throws -> [StoredResource] {
            guard let from = start(id), let to = start(id.addingReportingOverflow(1).partialValue), from < to else { return [] }
            return try await store.timeline(of: collection, from: from, to: to, descending: descending, limit: 10_000).filter { admits($0.path) }
        }

        /// The creation time of the nearest visible entry in chunk `from` or beyond, in the
        /// given direction (from the very first or last entry when `from` is nil). Chunks whose
        /// entries are all hidden are skipped, a bounded number of them.
        func neighbour(ascending: Bool, from: Int64?) async throws -> Int64? {
            var bound: Int64?
            if let from {
                guard let edge = start(from) else { return nil }
                bound = edge
            }
            for _ in 0..<ChunkedTimeline.maximumChunksSkipped {
                let found =
                    ascending
                    ? try await store.timelineNeighbour(of: collection, before: nil, atOrAfter: bound)
                    : try await store.timelineNeighbour(of: collection, before: bound, atOrAfter: nil)
                guard let found else { return nil }
                let id = ChunkedTimeline.chunk(ofMilliseconds: found, size: chunkSize)
                if try await !entries(inChunk: id, descending: false).isEmpty { return found }
                // Past this chunk: its first millisecond going down, the next chunk's going up.
                guard let next = ascending ? start(id.addingReportingOverflow(1).partialValue) : start(id) else { return nil }
                bound = next
            }
            return nil
        }
    }
}
