import HTTPTypes
import Hummingbird

/// Hands each request to the router under its routing key (see `RoutingKey`), keeping the
/// client's head in the context for the handlers.
struct EddyResponder: HTTPResponder {
    typealias Context = EddyRequestContext
    let router: RouterResponder<EddyRequestContext>

    func respond(to request: Request, context: Context) async throws -> Response {
        var context = context
        context.clientHead = request.head
        context.rawPath = request.uri.path
        var head = request.head
        let query = request.uri.query.map { "?" + $0 } ?? ""
        head.path = RoutingKey.key(for: context.rawPath) + query
        return try await router.respond(to: Request(head: head, body: request.body), context: context)
    }
}
