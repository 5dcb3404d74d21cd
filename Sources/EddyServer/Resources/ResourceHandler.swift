import EddyCore
import HTTPTypes
import Hummingbird

/// The REST face of the store: objects and collections over GET/PUT/PATCH/DELETE/POST (routed by
/// `ResourceRoutes`; HEAD is GET without the body).
struct ResourceHandler: Sendable {
    let store: any ResourceStore
    let configuration: ServerConfiguration
    let live: LiveResource

    static let jsonTypes: Set<String> = ["application/json"]
    static let patchTypes: Set<String> = ["application/merge-patch+json", "application/json"]

    /// What a resource path takes; the `Updates-Via` header is added with every resource answer.
    static func options(allowing methods: String) -> Response {
        Response(status: .noContent, headers: [.allow: methods, .contentLength: "0"])
    }

    func read(_ request: Request, _ path: ResourcePath, _ exchange: Exchange) async throws -> Response {
        let inm = try condition(request, .ifNoneMatch)
        if let inm, let seconds = try WaitRequest.seconds(request.headers, maximum: configuration.maximumWaitSeconds) {
            return try await live.valueWait(path: path, ifNoneMatch: inm, seconds: seconds, exchange: exchange)
        }
        guard let resource = try await store.resource(at: path) else { throw Problem.notFound(path.description) }
        if let inm, inm.matches(resource.etag) {
            var headers = live.linkHeaders(LiveEndpoints.objectLinks(exchange.baseURL, path))
            headers[.eTag] = resource.etag.headerValue
            headers[.contentLength] = "0"
            return Response(status: .notModified, headers: headers)
        }
        return live.objectResponse(resource.value, etag: resource.etag, path: path, exchange: exchange)
    }

    func listCollection(_ request: Request, _ path: ResourcePath, _ exchange: Exchange) async throws -> Response {
        let query = request.uri.queryParameters
        var limit = configuration.defaultListLimit
        var explicitMax: Int?
        if let raw = query["max"] {
            guard let asked = Int(raw), asked > 0 else {
                throw Problem.badRequest("invalid-parameter", "max must be a positive integer, got '\(raw)'")
            }
            limit = min(asked, configuration.maximumListLimit)
            explicitMax = limit
        }
        let wait = try WaitRequest.seconds(request.headers, maximum: configuration.maximumWaitSeconds)
        if let after = query["after"] {
            // A changes URI stays valid when the collection empties: its watchers must see the
            // last child leave and the next one arrive, not be told to start over.
            return try await live.changes(
                collection: path, after: after, max: limit, waitSeconds: wait, exchange: exchange)
        }
        var descending = false
        if let order = query["order"] {
            switch order {
            case "asc": descending = false
            case "desc": descending = true
            default: throw Problem.badRequest("invalid-parameter", "order must be asc or desc, got '\(order)'")
            }
        }
        let checkpoint = try await live.currentCheckpoint()
        let headers = live.linkHeaders(
            LiveEndpoints.collectionLinks(exchange.baseURL, path, checkpoint: checkpoint, max: explicitMax ?? configuration.defaultListLimit))
        guard try await store.collectionExists(path) else {
            // Still 404, but with the links: a client can watch for the first child from here.
            var problem = Problem.notFound(path.description)
            problem.headers = headers
            throw problem
        }
        let items = try await store.children(of: path, limit: limit, descending: descending)
        let admits = live.access.eventAdmission(for: .children(path), identity: exchange.identity)
        let visible = admits.map { admits in items.filter { admits($0.path) } } ?? items
        let body = "[" + visible.map(\.itemText).joined(separator: ",") + "]"
        return .json(.ok, body, headers: headers)
    }

    func put(_ request: inout Request, _ path: ResourcePath, _ exchange: Exchange) async throws -> Response {
        let document = try await objectBody(&request, "a resource must be a JSON object")
        let mutation = try Mutation(
            path: path, operation: .put(document), ifMatch: condition(request, .ifMatch), ifNoneMatch: condition(request, .ifNoneMatch))
        return try await commit(mutation, exchange)
    }

    func patch(_ request: inout Request, _ path: ResourcePath, _ exchange: Exchange) async throws -> Response {
        let patch = try await request.jsonBody(maximumBytes: configuration.maximumBodyBytes, accepting: Self.patchTypes)
        guard case .object = patch else {
            throw Problem(.badRequest, "not-an-object", "a merge patch for a resource must be a JSON object")
        }
        let mutation = try Mutation(path: path, operation: .patch(patch), ifMatch: condition(request, .ifMatch))
        return try await commit(mutation, exchange)
    }

    func delete(_ request: Request, _ path: ResourcePath, _ exchange: Exchange) async throws -> Response {
        let mutation = try Mutation(path: path, operation: .delete, ifMatch: condition(request, .ifMatch))
        return try await commit(mutation, exchange)
    }

    func append(_ request: inout Request, to collection: ResourcePath, _ exchange: Exchange) async throws -> Response {
        let document = try await objectBody(&request, "a collection item must be a JSON object")
        return try await commit(Mutation(path: collection, operation: .append(document)), exchange)
    }

    /// The body as the client sent it, once it is known to be one JSON object: it is stored and
    /// served byte for byte.
    private func objectBody(_ request: inout Request, _ refusal: String) async throws -> JSONDocument {
        let body = try await request.jsonBytes(maximumBytes: configuration.maximumBodyBytes, accepting: Self.jsonTypes)
        guard let document = try JSONDocument(validatingObject: body.readableBytesView) else {
            throw Problem(.badRequest, "not-an-object", refusal)
        }
        return document
    }

    private func commit(_ mutation: Mutation, _ exchange: Exchange) async throws -> Response {
        switch try await store.commit(mutation) {
        case .committed(let event, let created):
            var headers: HTTPFields = [.eTag: event.etag.headerValue]
            if event.kind == .deleted {
                return Response(status: .noContent)
            }
            let value = event.value ?? "{}"
            if case .append = mutation.operation {
                let location = exchange.baseURL + event.path.encoded
                headers[.location] = location
                headers[.contentLocation] = location
                return .json(.created, StoredResource.item(id: event.path.name, value: value), headers: headers)
            }
            if created { headers[.location] = exchange.baseURL + event.path.encoded }
            return .json(created ? .created : .ok, value, headers: headers)
        case .preconditionFailed(let current):
            var headers: HTTPFields = [:]
            if let current { headers[.eTag] = current.headerValue }
            throw Problem(
                .preconditionFailed, "precondition-failed",
                current == nil
                    ? "the precondition failed: \(mutation.path) does not exist"
                    : "the precondition failed: the current ETag of \(mutation.path) is \(current!.headerValue)",
                headers: headers)
        case .notFound:
            throw Problem.notFound(mutation.path.description)
        case .notAnObject:
            throw Problem(.badRequest, "not-an-object", "the merge patch would leave something that is not a JSON object")
        }
    }

    private func condition(_ request: Request, _ name: HTTPField.Name) throws -> ETagCondition? {
        guard let raw = request.headers[name] else { return nil }
        guard let condition = ETagCondition(header: raw, weakTagsMatch: name != .ifMatch) else {
            throw Problem.badRequest("invalid-header", "\(name.rawName) must be * or a list of quoted entity tags")
        }
        return condition
    }
}
