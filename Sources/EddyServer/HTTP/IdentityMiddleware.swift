import EddyCore
import Hummingbird
import NIOCore

/// Settles who asks, once, before any route that acts for someone: the cross-site guard first
/// (a cookie write from another site is refused before its token is even read), then the
/// credential, into `EddyRequestContext.exchange`. The health check and the web assets are
/// routed before it: a stale cookie must not lock anyone out of the sign-in page.
struct IdentityMiddleware: RouterMiddleware {
    typealias Context = EddyRequestContext
    let access: AccessController
    let cors: CORS
    let scheme: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try cors.refuseCrossSiteCookieWrite(request)
        let identity = try await access.identify(request)
        var context = context
        context.exchange = Exchange(
            identity: identity, baseURL: scheme + "://" + (request.head.authority ?? "localhost"), connection: context.channel,
            clientAddress: context.clientAddress)
        return try await next(request, context)
    }
}

/// What a handler knows about the request beyond its bytes: who asks, and the absolute base
/// URL they reached the server by (for Location and every other URL Eddy hands out).
struct Exchange: Sendable {
    let identity: Identity
    let baseURL: String
    /// Where a streaming answer is written; see `StreamOutlet`.
    let connection: (any Channel)?
    /// The peer's address, which anonymous callers' quotas key on.
    let clientAddress: String
}
