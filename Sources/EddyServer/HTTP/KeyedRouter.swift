@_spi(Internal) import Hummingbird
import EddyCore
import HTTPTypes

/// Builds Eddy's routing table: Hummingbird's route collections, middleware chains and path
/// trie, resolved against each request's routing key (see `RoutingKey`) rather than its path.
///
/// Why not Hummingbird's `Router`: it resolves `request.uri.path`, so routing by key meant
/// handing it a second `Request` with the key as its path, and the handlers a third with the
/// client's head back: about 12,000 instructions a request, 8 % of a `/healthz` answer
/// (docs/benchmark-log.md, sixteenth series). Here the key is only looked up; every handler and
/// middleware gets the request the client sent.
///
/// What the `Router` gave is kept: patterns and route collections, middleware that applies to
/// the routes added after it, HEAD answered from GET (body dropped, headers kept). The methods
/// each pattern lists in a 405's `Allow` are the ones it routes; a GET that opens a stream is
/// added without HEAD (`EddyRoutes.on(headToo:)`), so its HEAD gets that 405.
final class KeyedRouter: RouterMethods {
    typealias Context = EddyRequestContext

    private var patterns: [RouterPath] = []
    private var endpoints: [String: KeyedEndpoint] = [:]
    private var listed: [String: [HTTPRequest.Method]] = [:]
    private var middlewares: [any MiddlewareProtocol<Request, Response, Context>] = []

    /// Adds a protocol folder's routes, with the methods each of its patterns lists.
    func add(_ routes: EddyRoutes) {
        addRoutes(routes.collection)
        for (pattern, method) in routes.methods { listed[RouterPath(pattern).description, default: []].append(method) }
    }

    @discardableResult
    func on<Responder: HTTPResponder>(_ path: RouterPath, method: HTTPRequest.Method, responder: Responder) -> Self
    where Responder.Context == Context {
        let pattern = path.description
        if endpoints[pattern] == nil { patterns.append(path) }
        precondition(endpoints[pattern]?[method] == nil, "\(method) \(pattern) is routed twice")
        endpoints[pattern, default: KeyedEndpoint(pattern: pattern)].add(method, chained(responder))
        return self
    }

    /// Middleware for the routes added after it, and for the answer to a request no route takes.
    @discardableResult
    func add(middleware: any MiddlewareProtocol<Request, Response, Context>) -> Self {
        middlewares.append(middleware)
        return self
    }

    /// `responder` behind the middleware added so far, the first added outermost.
    private func chained(_ responder: any HTTPResponder<Context>) -> any HTTPResponder<Context> {
        middlewares.reversed().reduce(responder) { next, middleware in Chained(middleware: middleware, next: next) }
    }

    /// The responder; a route list that disagrees with the routes stops the server at start.
    func buildResponder() -> EddyResponder {
        let builder = RouterPathTrieBuilder<KeyedEndpoint>()
        for path in patterns {
            let pattern = path.description
            var endpoint = endpoints[pattern]!
            let methods = listed[pattern] ?? []
            endpoint.allow = KeyedEndpoint.listingOrder.filter(methods.contains)
            if methods.contains(.head), endpoint[.head] == nil, let get = endpoint[.get] {
                endpoint.add(.head, HeadFromGet(get: get))
            }
            precondition(
                Set(endpoint.routed) == Set(endpoint.allow),
                "\(pattern) routes \(endpoint.routed.map(\.rawValue).sorted()) but lists \(endpoint.allow.map(\.rawValue))")
            endpoints[pattern] = endpoint
            builder.addEntry(path, value: endpoint)
        }
        let trie = builder.build()
        func resource(_ shape: RoutingKey.ResourceShape) -> KeyedEndpoint? { endpoints[RouterPath(shape.pattern).description] }
        let resources = ResourceEndpoints(
            object: resource(.object), collection: resource(.collection), rootCollection: resource(.rootCollection))
        return EddyResponder(trie: trie, resources: resources, unrouted: chained(UnroutedResponder(trie: trie)))
    }
}

/// What one pattern routes: a responder per method, and the methods in `Allow` order.
struct KeyedEndpoint: Sendable {
    static let listingOrder: [HTTPRequest.Method] = [.get, .head, .options, .post, .put, .patch, .delete]

    let pattern: String
    private var responders: [(method: HTTPRequest.Method, responder: any HTTPResponder<EddyRequestContext>)] = []
    var allow: [HTTPRequest.Method] = []

    init(pattern: String) {
        self.pattern = pattern
    }

    /// Searched in turn: there are at most seven, and comparing two short method names costs
    /// less than hashing one.
    subscript(method: HTTPRequest.Method) -> (any HTTPResponder<EddyRequestContext>)? {
        responders.first { $0.method == method }?.responder
    }

    var routed: [HTTPRequest.Method] { responders.map(\.method) }

    mutating func add(_ method: HTTPRequest.Method, _ responder: any HTTPResponder<EddyRequestContext>) {
        responders.append((method, responder))
    }
}

private struct Chained: HTTPResponder {
    let middleware: any MiddlewareProtocol<Request, Response, EddyRequestContext>
    let next: any HTTPResponder<EddyRequestContext>

    func respond(to request: Request, context: EddyRequestContext) async throws -> Response {
        try await middleware.handle(request, context: context) { request, context in
            try await next.respond(to: request, context: context)
        }
    }
}

/// HEAD from a GET: the GET's answer, every header kept (Content-Length included), no body.
private struct HeadFromGet: HTTPResponder {
    let get: any HTTPResponder<EddyRequestContext>

    func respond(to request: Request, context: EddyRequestContext) async throws -> Response {
        try await get.respond(to: request, context: context).createHeadResponse()
    }
}

/// Answers what no route takes, behind the same middleware: 405 with `Allow` where the path
/// has routes for other methods, else 404.
private struct UnroutedResponder: HTTPResponder {
    let trie: RouterTrie<KeyedEndpoint>

    func respond(to request: Request, context: EddyRequestContext) async throws -> Response {
        let methods = trie.resolve(RoutingKey.key(for: context.rawPath))?.value.allow ?? []
        guard !methods.isEmpty else {
            // A resource path no route takes is malformed (an empty segment): say how.
            if RoutingKey.isResource(context.rawPath) { _ = try ResourcePath(parsing: context.rawPath) }
            throw Problem.notFound(context.rawPath)
        }
        throw Problem.methodNotAllowed(request.method, allowed: methods, target: context.rawPath)
    }
}
