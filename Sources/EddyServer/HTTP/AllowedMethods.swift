@_spi(Internal) import Hummingbird
import EddyCore
import HTTPTypes

/// Which methods the router answers at a routing key, from the same trie type the router
/// resolves with, built from the same patterns, so an `Allow` header lists exactly the methods
/// that would be routed.
struct AllowedMethods: Sendable {
    private let trie: RouterTrie<[HTTPRequest.Method]>

    /// The order methods are listed in.
    private static let order: [HTTPRequest.Method] = [.get, .head, .options, .post, .put, .patch, .delete]

    init(_ routes: [EddyRoutes]) {
        var byPattern: [String: [HTTPRequest.Method]] = [:]
        for routes in routes {
            for (pattern, method) in routes.methods { byPattern[pattern, default: []].append(method) }
        }
        let builder = RouterPathTrieBuilder<[HTTPRequest.Method]>()
        for (pattern, methods) in byPattern {
            builder.addEntry(RouterPath(pattern), value: Self.order.filter(methods.contains))
        }
        trie = builder.build()
    }

    func at(_ key: String) -> [HTTPRequest.Method] {
        trie.resolve(key)?.value ?? []
    }
}

/// Answers what the router could not route: 405 with `Allow` where the path has routes for
/// other methods, else 404.
struct UnroutedMiddleware: RouterMiddleware {
    typealias Context = EddyRequestContext
    let allowed: AllowedMethods

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            throw try unrouted(request, context)
        } catch is RouteMiss {
            throw try unrouted(request, context)
        }
    }

    private func unrouted(_ request: Request, _ context: Context) throws -> Problem {
        let methods = allowed.at(request.uri.path)
        guard !methods.isEmpty else {
            // A resource path no route takes is malformed (an empty segment): say how.
            if RoutingKey.isResource(context.rawPath) { _ = try ResourcePath(parsing: context.rawPath) }
            return Problem.notFound(context.rawPath)
        }
        return Problem.methodNotAllowed(request.method, allowed: methods, target: context.rawPath)
    }
}
