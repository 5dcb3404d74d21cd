import HTTPTypes
import Hummingbird

/// One protocol folder's routes: a Hummingbird `RouteCollection`, plus the methods each pattern
/// lists in a 405's `Allow` (`KeyedRouter` checks they are the ones routed). Patterns are
/// routing keys (`RoutingKey`); handlers receive the request as the client sent it.
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
            var request = request
            return try await handler(&request, context)
        }
        if method == .get, headToo { methods.append((pattern, .head)) }
    }

    /// Middleware for the routes added after it.
    func add(middleware: any MiddlewareProtocol<Request, Response, EddyRequestContext>) {
        collection.add(middleware: middleware)
    }
}
