import HTTPTypes
import Hummingbird

/// Cross-origin access, so a page on another origin can use every endpoint. With no configured
/// origins any origin may read without credentials (`*`); configured origins are echoed back
/// with credentials allowed, so cookie-authenticated EventSource and WebSocket work from them.
struct CORS: Sendable {
    let allowedOrigins: Set<String>

    static let allowHeaders =
        "Authorization, Content-Type, If-Match, If-None-Match, Wait, Prefer, Uri, Last-Event-ID, Accept, Cache-Control"
    static let exposeHeaders = "ETag, Link, Location, Content-Location, Retry-After, WWW-Authenticate, Allow, Accept-Post"
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

    private func originHeaders(_ request: Request) -> HTTPFields {
        guard let origin = request.headers[.origin] else { return [:] }
        if allowedOrigins.contains(origin) {
            return [.accessControlAllowOrigin: origin, .accessControlAllowCredentials: "true", .vary: "Origin"]
        }
        return [.accessControlAllowOrigin: "*"]
    }
}
