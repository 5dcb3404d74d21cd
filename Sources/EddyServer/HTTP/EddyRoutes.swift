import HTTPTypes
import Hummingbird

/// One protocol folder's routes: the `RouteCollection` Hummingbird routes by, plus the methods
/// each pattern allows, which the router keeps to itself but a 405's `Allow` needs
/// (`AllowedMethods`). Handlers receive the request as the client sent it, not the routing key.
struct EddyRoutes {
    typealias Handler = @Sendable (inout Request, EddyRequestContext) async throws -> Response

    let collection = RouteCollection(context: EddyRequestContext.self)
    private(set) var methods: [(pattern: String, method: HTTPRequest.Method)] = []

    /// Adds a route. A GET also answers HEAD (the router generates it, dropping the body and
    /// keeping every header, Content-Length included) unless `headToo` is false, for a GET
    /// that opens a stream, whose HEAD is refused like any other method the path lacks.
    mutating func on(_ pattern: String, _ method: HTTPRequest.Method, headToo: Bool = true, _ handler: @escaping Handler) {
        methods.append((pattern, method))
        collection.on(RouterPath(pattern), method: method) { request, context in
            var request = context.clientHead.map { Request(head: $0, body: request.body) } ?? request
            return try await handler(&request, context)
        }
        guard method == .get else { return }
        if headToo {
            methods.append((pattern, .head))
        } else {
            collection.on(RouterPath(pattern), method: .head, use: Self.refuse)
        }
    }

    @Sendable private static func refuse(_: Request, _: EddyRequestContext) async throws -> Response {
        throw RouteMiss()
    }

    /// Middleware for the routes added after it.
    func add(middleware: any MiddlewareProtocol<Request, Response, EddyRequestContext>) {
        collection.add(middleware: middleware)
    }
}

/// A route that exists for the path but not for this method; `UnroutedMiddleware` answers it.
struct RouteMiss: Error {}
