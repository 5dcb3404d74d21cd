import HTTPTypes
import Hummingbird

/// A browser attaches the `eddy_token` cookie to requests that pages on other sites make, and
/// some of those (HTML form posts, `text/plain` bodies) need no CORS preflight, so the cookie
/// alone does not show that the signed-in user meant the write. A bearer header does: a page
/// can only set it on requests CORS has let through.
extension CORS {
    /// What a page on another site can send without a preflight.
    static let formMediaTypes: Set<String> = ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"]

    /// Refuses (403) a state-changing request authenticated by the cookie unless its `Origin`
    /// is the server's own or a configured one, or — from a client that sends no `Origin` —
    /// its body is of a type no form can send.
    func refuseCrossSiteCookieWrite(_ request: Request) throws {
        switch request.method {
        case .get, .head, .options: return
        default: break
        }
        guard Self.authenticatesByCookie(request.headers) else { return }
        if let origin = request.headers[.origin] {
            guard mayUseCookies(origin: origin, host: request.head.authority) else {
                throw Problem(
                    .forbidden, "cross-site-request",
                    "a request from \(origin) may not write with the \(AccessController.tokenCookie) cookie; "
                        + "send Authorization: Bearer, or serve the page from an origin listed in --cors-origin")
            }
            return
        }
        if let type = request.mediaType, Self.formMediaTypes.contains(type) {
            throw Problem(
                .forbidden, "cross-site-request",
                "a \(type) body authenticated by the \(AccessController.tokenCookie) cookie needs an Origin header "
                    + "naming this server or an origin listed in --cors-origin")
        }
    }

    /// Whether the credential `AccessController` will use comes from the cookie: there is
    /// one, and the `Authorization` header alone yields none.
    static func authenticatesByCookie(_ headers: HTTPFields) -> Bool {
        var authorizationOnly = HTTPFields()
        for field in headers where field.name == .authorization { authorizationOnly.append(field) }
        return AccessController.bearerToken(authorizationOnly) == nil && AccessController.bearerToken(headers) != nil
    }
}
