import ConcrntCrypto
import EddyCore
import Foundation
import HTTPTypes
import Hummingbird

/// Concrnt on Eddy's resource tree: signed-document commits, the resource and entity
/// endpoints, and `/.well-known/concrnt`. A committed document is stored at its `cc://` URI's
/// path; each `memberOf` collection gets a member entry carrying the same signed document.
struct Concrnt: Sendable {
    static let prefix = "/.eddy/concrnt"
    static let commitPath = prefix + "/commit"
    static let resourcePrefix = prefix + "/resource/"
    static let entityPrefix = prefix + "/entity/"
    static let realtimePath = prefix + "/realtime"
    static let resolvePath = prefix + "/resolve"
    static let timelineByURIPrefix = prefix + "/timeline/"
    static let recentPath = prefix + "/recent"
    static let timelinePrefix = "/.eddy/timeline"

    let store: any ResourceStore
    let serverKey: SigningKey
    let maximumSkewSeconds: Double
    let maximumBodyBytes: Int
    /// Where documents of entities that live elsewhere are read from.
    let federation: Federation?

    // MARK: Discovery

    /// The spec's names with its `${…}` templates, and beside them the names the deployed
    /// network's clients look for, with RFC 6570 templates (an RFC 6570 expander would turn
    /// `${uri}` into `$` and the value, so the two kinds of template never share a name).
    /// `domain` is the host the client reached this server by.
    func wellKnown(_ request: Request) throws -> Response {
        let endpoints: [(String, String)] = [
            ("net.concrnt.core.entity", Self.entityPrefix + "${ccid}"),
            ("net.concrnt.core.resource", Self.resourcePrefix + "${uri}"),
            ("net.concrnt.core.realtime", Self.realtimePath),
            ("net.concrnt.core.commit", Self.commitPath),
            ("net.concrnt.timeline.chunked", Self.timelineByURIPrefix + "${uri}"),
            ("net.concrnt.core.resolve", Self.resolvePath + "?uri={uri}"),
            ("net.concrnt.world.timeline.recent", Self.recentPath + "{?uris,until,limit}"),
        ]
        let body = "{\"version\":\"2.0\",\"domain\":\(JSONValue.quoted(request.head.authority ?? "")),"
            + "\"csid\":\(JSONValue.quoted(serverKey.csid)),\"endpoints\":{"
            + endpoints.map { "\(JSONValue.quoted($0.0)):\(JSONValue.quoted($0.1))" }.joined(separator: ",") + "}}"
        return .json(.ok, body)
    }

    // MARK: Commit

    /// A signature says who wrote the document; the access policy still decides whether the
    /// caller may write the document and each member entry, and every entry is a write that
    /// `chargeEntries` spends the rate limit on (the document itself was charged before the
    /// body was read).
    func commit(
        _ request: inout Request, identity: Identity, access: AccessController, chargeEntries: (Int) throws -> Void
    ) async throws -> Response {
        let text = String(buffer: try await request.collectBody(upTo: maximumBodyBytes))
        let verified: VerifiedDocument
        do {
            verified = try SignedDocument(json: text).verify()
        } catch {
            throw Self.problem(for: error)
        }
        let skew = abs(verified.createdAt.timeIntervalSinceNow)
        guard skew <= maximumSkewSeconds else {
            throw Problem.badRequest(
                "clock-skew", "createdAt \(verified.createdAtText) is \(Int(skew)) s from the server's time (at most \(Int(maximumSkewSeconds)) s)")
        }
        guard let key = verified.key else { throw Problem.badRequest("malformed-document", "the document has no key") }
        let uri = try ConcrntURI(ccid: verified.author, key: key)
        if verified.kind == "delete" {
            return try await delete(uri, signedBy: text, identity: identity, access: access, chargeEntries: chargeEntries)
        }

        let planned = try ConcrntWrites.put(verified, envelope: text, uri: uri)
        for path in planned.paths { try access.authorize(identity, to: .write, at: path) }
        try chargeEntries(planned.paths.count - 1)
        for collection in planned.members where !collection.ccid.hasSameBytes(as: verified.author) {
            guard try await isOpen(collection) else {
                throw Problem(.forbidden, "collection-not-open", "\(collection) belongs to another entity and is not open")
            }
        }
        let mutations = planned.mutations
        let outcome = try await store.commit(all: mutations)
        guard case .committed(let outcomes) = outcome, case .committed(let event, let created)? = outcomes.first else {
            throw Problem(.conflict, "not-committed", "\(outcome)")
        }
        await federation?.directory.learn(from: verified, ownHost: request.head.authority)
        return .json(
            created ? .created : .ok, "{\"uri\":\(JSONValue.quoted(uri.description))}", headers: [.eTag: event.etag.headerValue])
    }

    /// Deletes the document and its member entries. Each deletion keeps the signed delete
    /// document in the log, so realtime relays it as the deployed network does.
    private func delete(
        _ uri: ConcrntURI, signedBy envelope: String, identity: Identity, access: AccessController, chargeEntries: (Int) throws -> Void
    ) async throws -> Response {
        let authorize = { (path: ResourcePath) throws in try access.authorize(identity, to: .write, at: path) }
        try authorize(try uri.path)
        guard let mutations = try await ConcrntWrites.delete(uri, envelope: envelope, store: store, authorize: authorize) else {
            throw Problem.notFound(uri.description)
        }
        try chargeEntries(mutations.count - 1)
        guard case .committed = try await store.commit(all: mutations) else {
            throw Problem(.conflict, "not-committed", "\(uri) changed while it was being deleted; try again")
        }
        return Response(status: .noContent)
    }

    /// A collection of another entity accepts members when its own document says `"open": true`.
    private func isOpen(_ collection: ConcrntURI) async throws -> Bool {
        guard let stored = try await store.resource(at: try collection.path) else { return false }
        return try JSONValue(parsing: stored.value)["open"] == .bool(true)
    }

    static func problem(for error: any Error) -> Problem {
        guard let error = error as? SignedDocumentError else { return Problem.badRequest("malformed-document", "\(error)") }
        switch error {
        case .malformedEnvelope, .malformedDocument:
            return Problem.badRequest("malformed-document", error.description)
        case .unsupportedProofType, .malformedSignature, .signatureInvalid:
            return Problem(.unauthorized, "bad-signature", error.description)
        case .authorMismatch:
            return Problem(.forbidden, "author-mismatch", error.description)
        }
    }

    // MARK: Reading

    /// The URI percent-encoded after `prefix` in the request's path.
    static func uri(after prefix: String, in rawPath: String) throws -> ConcrntURI {
        let encoded = String(rawPath.dropFirst(prefix.count))
        guard let text = encoded.removingPercentEncoding else { throw Problem.badRequest("invalid-uri", "not percent-encoded UTF-8") }
        return try ConcrntURI(parsing: text)
    }

    /// The URI in the `uri` query parameter (the deployed `resolve` endpoint).
    static func uri(inQueryOf request: Request) throws -> ConcrntURI {
        guard let text = request.uri.queryParameters["uri"] else { throw Problem.badRequest("invalid-parameter", "uri is required") }
        return try ConcrntURI(parsing: String(text))
    }

    /// A resource's signed document; or, asked with a timeline media type (as the deployed
    /// client asks), the chunked timeline of its members.
    func resolve(_ uri: ConcrntURI, request: Request, timeline: ChunkedTimeline, access: AccessController, exchange: Exchange) async throws -> Response {
        if ChunkedTimeline.isAsked(by: request) {
            return try await timeline.respond(request, collection: try uri.membersPath, exchange: exchange)
        }
        let path = try uri.path
        try access.authorize(exchange.identity, to: .read, at: path)
        if let federation, case .remote(let origin) = await federation.directory.home(of: uri, ownHost: request.head.authority) {
            do {
                guard let envelope = try await federation.documents.document(uri, at: origin) else { throw Problem.notFound(uri.description) }
                return .json(.ok, envelope)
            } catch let problem as Problem {
                throw problem
            } catch {
                // The home cannot be reached: what was relayed here is the best there is.
                guard let stored = try await storedDocument(at: path) else {
                    throw Problem(.badGateway, "home-unreachable", "\(uri) lives at \(origin), which did not answer: \(error)")
                }
                return .json(.ok, stored.envelope, headers: [.eTag: stored.etag.headerValue])
            }
        }
        guard let stored = try await storedDocument(at: path) else { throw Problem.notFound(uri.description) }
        return .json(.ok, stored.envelope, headers: [.eTag: stored.etag.headerValue])
    }

    private func storedDocument(at path: ResourcePath) async throws -> (envelope: String, etag: ETag)? {
        guard let stored = try await store.resource(at: path),
            case .string(let signed)? = try JSONValue(parsing: stored.value)["signedDocument"]
        else { return nil }
        return (signed, stored.etag)
    }

    func entity(_ request: Request, rawPath: String) async throws -> Response {
        let ccid = String(rawPath.dropFirst(Self.entityPrefix.count))
        guard CCID.isValid(ccid) else { throw Problem.badRequest("invalid-ccid", "\(ccid) is not a valid CCID") }
        // An entity that lives elsewhere is described by where it lives, not by the copies here.
        if let federation, case .remote(let origin) = await federation.directory.home(of: ccid, askingPeers: false) {
            let domain = origin.range(of: "://").map { String(origin[$0.upperBound...]) } ?? origin
            return .json(.ok, "{\"ccid\":\(JSONValue.quoted(ccid)),\"domain\":\(JSONValue.quoted(domain))}")
        }
        let home = try ResourcePath(segments: [ConcrntURI.root, ccid], isCollection: true)
        guard try await store.collectionExists(home) else { throw Problem.notFound("the entity \(ccid)") }
        let body = "{\"ccid\":\(JSONValue.quoted(ccid)),\"domain\":\(JSONValue.quoted(request.head.authority ?? "")),"
            + "\"csid\":\(JSONValue.quoted(serverKey.csid))}"
        return .json(.ok, body)
    }
}

/// The server's own secp256k1 key: made on first start, kept in the store.
enum ServerKey {
    static func load(from store: any ResourceStore) async throws -> SigningKey {
        if let stored = try await store.registration(id: "concrnt-server-key") {
            return try SigningKey(hex: stored.payload)
        }
        let key = SigningKey.generate()
        _ = try await store.createRegistration(
            StoredRegistration(id: "concrnt-server-key", kind: "server-key", subject: nil, payload: key.hexRepresentation, cursor: 0))
        // Whoever created it first — this node or another starting beside it — made everyone's key.
        guard let stored = try await store.registration(id: "concrnt-server-key") else {
            throw ConfigurationError("the server key vanished while it was being made")
        }
        return try SigningKey(hex: stored.payload)
    }
}
