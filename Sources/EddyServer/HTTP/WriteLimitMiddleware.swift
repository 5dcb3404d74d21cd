import EddyCore
import HTTPTypes
import Hummingbird

/// The write rate, per subject (or per address for anonymous callers).
struct WriteLimits: Sendable {
    let limiter: RateLimiter

    /// Whether a request of `method` spends the caller's budget: every one that can change state.
    static func charges(_ method: HTTPRequest.Method) -> Bool {
        switch method {
        case .get, .head, .options: false
        default: true
        }
    }

    /// Spends `cost` writes of the caller's budget, or refuses with 429 and `Retry-After`.
    func charge(_ exchange: Exchange, cost: Int = 1) throws {
        guard cost > 0 else { return }
        let key = exchange.identity.subject.map { "sub:" + $0 } ?? "addr:" + exchange.clientAddress
        let decision = limiter.take(key, cost: cost)
        guard !decision.allowed else { return }
        let seconds = max(1, Int(decision.retryAfter.rounded(.up)))
        throw Problem(
            .tooManyRequests, "rate-limited", "too many writes; try again in \(seconds) s",
            headers: [.retryAfter: String(seconds)])
    }
}

/// Charges one write for every state-changing request of the routes it guards, before the
/// handler reads the body.
struct WriteLimitMiddleware: RouterMiddleware {
    typealias Context = EddyRequestContext
    let limits: WriteLimits

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if WriteLimits.charges(request.method) { try limits.charge(try context.identified()) }
        return try await next(request, context)
    }
}
