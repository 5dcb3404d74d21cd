import HTTPTypes
import Hummingbird

/// Cross-origin access, so a page on another origin can use every endpoint. With no configured
/// origins any origin may read without credentials (`*`); configured origins are echoed back
/// with credentials allowed, so cookie-authenticated EventSource and WebSocket work from them.
struct CORS: Sendable {
    let allowedOrigins: Set<String>

    static let allowHeaders =
        "Authorization, Content-Type, If-Match, If-None-Match, Wait, Prefer, Uri, Last-Event-ID, Accept, Cache-Control"
    static let exposeHeaders = "ETag, Link, Location, Content-Location, Retry-After, WWW-Authenticate, Allow, Accept-Post, Updates-Via"
    static let allowMethods = "GET, HEAD, PUT, PATCH, POST, DELETE, OPTIONS"

    func isPreflight(_ request: Request) -> Bool {
        request.method == .options && request.headers[.origin] != nil && request.headers[.accessControlRequestMethod] != nil
    }

    func preflight(_ request: Request) -> Response {
        var headers = originHeaders(request)
        headers[.accessControlAllowMethods] = Self.allowMethods
        headers[.accessControlAllowHeaders] = Self.allowHeaders
        headers[.accessControlMaxAge] = "600"
        headers[.contentLength] = "0"
        return Response(status: .noContent, headers: headers)
    }

    func decorate(_ response: inout Response, for request: Request) {
        guard request.headers[.origin] != nil else { return }
        for field in originHeaders(request) { response.headers[field.name] = field.value }
        response.headers[.accessControlExposeHeaders] = Self.exposeHeaders
    }

    /// Whether a browser request from `origin` may act with the caller's cookie. WebSocket
    /// upgrades have no CORS check in the browser, so without this any page on the same site
    /// could open a socket with the signed-in user's cookie. Allowed: no `Origin` (not a
    /// browser), the configured origins, and the server's own origin (`host` is the request's
    /// `Host`).
    func mayUseCookies(origin: String?, host: String?) -> Bool {
        guard let origin else { return true }
        if allowedOrigins.contains(origin) { return true }
        guard let host, let (scheme, authority) = Self.split(origin: origin) else { return false }
        return Authority.same(authority, host[...], scheme: scheme)
    }

    private static func split(origin: String) -> (scheme: Substring, authority: Substring)? {
        guard let separator = origin.range(of: "://") else { return nil }
        let authority = origin[separator.upperBound...]
        guard !authority.isEmpty, !authority.contains("/") else { return nil }
        return (origin[..<separator.lowerBound], authority)
    }

    private func originHeaders(_ request: Request) -> HTTPFields {
        guard let origin = request.headers[.origin] else { return [:] }
        if allowedOrigins.contains(origin) {
            return [.accessControlAllowOrigin: origin, .accessControlAllowCredentials: "true", .vary: "Origin"]
        }
        return [.accessControlAllowOrigin: "*"]
    }
}
