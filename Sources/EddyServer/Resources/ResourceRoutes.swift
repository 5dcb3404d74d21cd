import EddyCore
import HTTPTypes
import Hummingbird

/// Resources: every path not under `/.` (see `RoutingKey` for how the router tells them from
/// the endpoints, and collections, ending in '/', from objects).
enum ResourceRoutes {
    static func make(_ resources: ResourceHandler, timeline: ChunkedTimeline, access: AccessController, limits: WriteLimits) -> EddyRoutes {
        var routes = EddyRoutes()
        routes.add(middleware: ResourceAccessMiddleware(access: access, limits: limits))
        for collection in [RoutingKey.rootCollection, RoutingKey.resourceCollection] {
            routes.on(collection, .get) { request, context in
                let path = try context.resolvedPath()
                if ChunkedTimeline.isAsked(by: request) {
                    return try await timeline.respond(request, collection: path, exchange: context.identified())
                }
                return try await resources.listCollection(request, path, context.identified())
            }
            routes.on(collection, .post) { request, context in
                try await resources.append(&request, to: context.resolvedPath(), context.identified())
            }
            routes.on(collection, .options) { _, _ in ResourceHandler.options(allowing: "GET, HEAD, OPTIONS, POST") }
        }
        routes.on(RoutingKey.resourceObject, .options) { _, _ in
            ResourceHandler.options(allowing: "GET, HEAD, OPTIONS, PUT, PATCH, DELETE")
        }
        routes.on(RoutingKey.resourceObject, .get) { request, context in
            try await resources.read(request, context.resolvedPath(), context.identified())
        }
        routes.on(RoutingKey.resourceObject, .put) { request, context in
            try await resources.put(&request, context.resolvedPath(), context.identified())
        }
        routes.on(RoutingKey.resourceObject, .patch) { request, context in
            try await resources.patch(&request, context.resolvedPath(), context.identified())
        }
        routes.on(RoutingKey.resourceObject, .delete) { request, context in
            try await resources.delete(request, context.resolvedPath(), context.identified())
        }
        return routes
    }
}

/// Parses the resource path from the raw bytes the client sent, checks the caller may act on
/// it, then charges a write to the caller's budget, all before any body is read. A
/// chunked-timeline read checks access itself, per chunk's items; an `OPTIONS` needs no access,
/// as it tells only what the server does. Every answer, refusals included, names the
/// `solid-0.1` socket in `Updates-Via`, where a Solid client looks for it. (One middleware, not
/// several: each is an async call on every resource request.)
struct ResourceAccessMiddleware: RouterMiddleware {
    typealias Context = EddyRequestContext
    let access: AccessController
    let limits: WriteLimits

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let exchange = try context.identified()
        let updatesVia = LegacySocket.url(exchange.baseURL)
        do {
            let path = try ResourcePath(parsing: context.rawPath)
            context.resourcePath = path
            let reads = request.method == .get || request.method == .head
            if request.method != .options && !(reads && path.isCollection && ChunkedTimeline.isAsked(by: request)) {
                try access.authorize(exchange.identity, to: reads ? .read : .write, at: path)
            }
            if WriteLimits.charges(request.method) { try limits.charge(exchange) }
            var response = try await next(request, context)
            response.headers[LegacySocket.updatesVia] = updatesVia
            return response
        } catch var problem as Problem {
            problem.headers[LegacySocket.updatesVia] = updatesVia
            throw problem
        }
    }
}

extension EddyRequestContext {
    func resolvedPath() throws -> ResourcePath {
        guard let resourcePath else {
            throw Problem(.internalServerError, "internal", "a resource route was reached without its path")
        }
        return resourcePath
    }
}
