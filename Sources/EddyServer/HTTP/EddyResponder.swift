@_spi(Internal) import Hummingbird

/// Finds each request's route by its routing key (see `RoutingKey`) and hands the route the
/// request as the client sent it. Built by `KeyedRouter`.
struct EddyResponder: HTTPResponder {
    typealias Context = EddyRequestContext
    let trie: RouterTrie<KeyedEndpoint>
    /// The answer, behind every router middleware, for a request no route takes.
    let unrouted: any HTTPResponder<Context>

    func respond(to request: Request, context: Context) async throws -> Response {
        var context = context
        context.rawPath = request.uri.path
        let responder = trie.resolve(RoutingKey.key(for: context.rawPath))?.value.responders[request.method] ?? unrouted
        do {
            return try await responder.respond(to: request, context: context)
        } catch let error as any HTTPResponseError {
            return try error.response(from: request, context: context)
        }
    }
}
