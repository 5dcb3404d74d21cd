@_spi(Internal) import Hummingbird

/// Finds each request's route by its routing key (see `RoutingKey`) and hands the route the
/// request as the client sent it. Built by `KeyedRouter`.
struct EddyResponder: HTTPResponder {
    typealias Context = EddyRequestContext
    let trie: RouterTrie<KeyedEndpoint>
    /// The endpoints of the three resource patterns, which every resource path's key resolves
    /// to: a resource request is routed by its shape alone.
    let resources: ResourceEndpoints
    /// The answer, behind every router middleware, for a request no route takes.
    let unrouted: any HTTPResponder<Context>

    func respond(to request: Request, context: Context) async throws -> Response {
        var context = context
        context.rawPath = request.uri.path
        let responder = endpoint(for: context.rawPath)?[request.method] ?? unrouted
        do {
            return try await responder.respond(to: request, context: context)
        } catch let error as any HTTPResponseError {
            return try error.response(from: request, context: context)
        }
    }

    private func endpoint(for rawPath: String) -> KeyedEndpoint? {
        guard let shape = RoutingKey.resourceShape(of: rawPath) else {
            return trie.resolve(RoutingKey.key(for: rawPath))?.value
        }
        let endpoint = resources[shape]
        assert(
            endpoint?.pattern == trie.resolve(RoutingKey.key(for: rawPath))?.value.pattern,
            "\(rawPath) is routed by its shape to \(endpoint?.pattern ?? "nothing"), by its key elsewhere")
        return endpoint
    }
}

/// The endpoints of the resource patterns, one per shape of resource path.
struct ResourceEndpoints: Sendable {
    let object: KeyedEndpoint?
    let collection: KeyedEndpoint?
    let rootCollection: KeyedEndpoint?

    subscript(shape: RoutingKey.ResourceShape) -> KeyedEndpoint? {
        switch shape {
        case .object: object
        case .collection: collection
        case .rootCollection: rootCollection
        }
    }
}
