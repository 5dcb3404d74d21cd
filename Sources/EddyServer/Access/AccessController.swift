import EddyCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import Synchronization

/// Who is asking: a verified subject, or nobody. Subjects are identities: two are the same
/// only with the same bytes (see `ByteIdentity`).
public struct Identity: Sendable, Equatable {
    public let subject: String?

    public static let anonymous = Identity(subject: nil)

    public static func == (lhs: Identity, rhs: Identity) -> Bool {
        ByteIdentity.same(lhs.subject, rhs.subject)
    }
}

/// The one seam every protocol surface asks before it reads, writes or subscribes: it turns
/// a request into an identity, and an identity, action and path into allowed, 401 or 403.
public final class AccessController: Sendable {
    public static let tokenCookie = "eddy_token"

    private let authenticator: Authenticator
    private let policyFile: URL?
    private let policy: Mutex<AccessPolicy>
    private let logger: Logger

    /// - Parameter policyFile: the rules; nil means the open policy, which only a server
    ///   listening on loopback may run with (checked by the caller, see `requirePolicy`).
    public init(authenticator: Authenticator, policyFile: URL?, logger: Logger) throws {
        self.authenticator = authenticator
        self.policyFile = policyFile
        self.logger = logger
        self.policy = Mutex(try policyFile.map(Self.load) ?? .open)
    }

    public init(authenticator: Authenticator, policy: AccessPolicy, logger: Logger) {
        self.authenticator = authenticator
        self.policyFile = nil
        self.logger = logger
        self.policy = Mutex(policy)
    }

    public var currentPolicy: AccessPolicy { policy.withLock { $0 } }

    static func load(_ file: URL) throws -> AccessPolicy {
        let text: String
        do {
            text = try String(contentsOf: file, encoding: .utf8)
        } catch {
            throw PolicyError.unreadable("cannot read the policy file \(file.path): \(error.localizedDescription)")
        }
        return try AccessPolicy(parsing: text)
    }

    /// Re-reads the policy file (on SIGHUP). Returns the new policy, or throws and keeps the
    /// old one when the file is broken.
    @discardableResult
    public func reload() throws -> AccessPolicy {
        guard let policyFile else { return currentPolicy }
        let fresh = try Self.load(policyFile)
        policy.withLock { $0 = fresh }
        logger.info("access policy reloaded", metadata: ["rules": "\(fresh.rules.count)"])
        return fresh
    }

    /// Replaces the policy directly (tests, embedding).
    public func replacePolicy(_ fresh: AccessPolicy) {
        policy.withLock { $0 = fresh }
    }

    /// The caller's identity from `Authorization: Bearer …` or the `eddy_token` cookie. A token
    /// that is present but invalid or expired is an error (401), not anonymity. Tokens in the
    /// query string are refused: they end up in logs.
    public func identify(_ request: Request) async throws -> Identity {
        try await identify(headers: request.headers, target: request.uri.string)
    }

    /// The same, for a WebSocket upgrade request seen before Hummingbird makes a `Request`.
    public func identify(headers: HTTPFields, target: String) async throws -> Identity {
        let query = URI(target).queryParameters
        if query["access_token"] != nil || query["token"] != nil {
            throw Problem(
                .badRequest, "token-in-query",
                "tokens are not accepted in the query string (they leak into logs); send Authorization: Bearer or the \(Self.tokenCookie) cookie")
        }
        guard let token = Self.bearerToken(headers) else { return .anonymous }
        do {
            return Identity(subject: try await authenticator.subject(of: token))
        } catch {
            throw Problem(
                .unauthorized, error == .expired ? "token-expired" : "invalid-token", error.description,
                headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""])
        }
    }

    static func bearerToken(_ headers: HTTPFields) -> String? {
        if let authorization = headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                return parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        for cookieHeader in headers[values: .cookie] {
            for pair in cookieHeader.split(separator: ";") {
                let trimmed = pair.trimmingCharacters(in: .whitespaces)
                if trimmed.hasPrefix(tokenCookie + "=") {
                    return String(trimmed.dropFirst(tokenCookie.count + 1))
                }
            }
        }
        return nil
    }

    public func allows(_ identity: Identity, to action: AccessPolicy.Action, at path: ResourcePath) -> Bool {
        policy.withLock { $0.allows(identity.subject, to: action, at: path) }
    }

    /// Throws the right refusal: 401 for anonymous callers (they may do better with a token),
    /// 403 for a subject that may not.
    public func authorize(_ identity: Identity, to action: AccessPolicy.Action, at path: ResourcePath) throws {
        guard !allows(identity, to: action, at: path) else { return }
        throw refusal(identity, action, path)
    }

    public func refusal(_ identity: Identity, _ action: AccessPolicy.Action, _ path: ResourcePath) -> Problem {
        if identity.subject == nil {
            return Problem(
                .unauthorized, "unauthenticated", "\(action.rawValue) access to \(path) needs credentials",
                headers: [.wwwAuthenticate: "Bearer"])
        }
        return Problem(.forbidden, "forbidden", "\(identity.subject!) may not \(action.rawValue) \(path)")
    }

    /// "Subscribe as this identity", in one place: refuses (401/403, as `authorize`) unless
    /// `identity` may read the anchor of every filter, and otherwise carries the principal the
    /// hub re-checks on a policy reload and the per-event admission it applies below the anchor
    /// — where a stricter rule may hide a child, also one a reload adds later.
    public func watcher(_ identity: Identity, reading filters: SubscriptionFilter...) throws -> Watcher {
        try watcher(identity, reading: filters)
    }

    public func watcher(_ identity: Identity, reading filters: [SubscriptionFilter]) throws -> Watcher {
        for filter in filters { try authorize(identity, to: .read, at: filter.path) }
        return Watcher(principal: identity.subject, admits: { [self] path in self.allows(identity, to: .read, at: path) })
    }

    /// A subscription to `filter` for `identity`, refused as `watcher` refuses.
    public func subscription(
        _ identity: Identity, to filter: SubscriptionFilter, from start: ResumePosition = .now, pace: DeliveryPace = .unpaced
    ) throws -> Subscription {
        Subscription(filter, watcher: try watcher(identity, reading: filter), from: start, pace: pace)
    }

    /// For a read of `filter`'s events outside a subscription (a changes page, a listing): the
    /// per-event check, so a reader of a collection never sees a child that a stricter rule
    /// below hides from it; nil for a single value, whose anchor check covers it.
    public func eventAdmission(for filter: SubscriptionFilter, identity: Identity) -> (@Sendable (ResourcePath) -> Bool)? {
        if case .value = filter { return nil }
        return { [self] path in self.allows(identity, to: .read, at: path) }
    }

    /// Whether a subscription made by `principal` may still read what it watches.
    public func stillAllows(_ filter: SubscriptionFilter, principal: String?) -> Bool {
        allows(Identity(subject: principal), to: .read, at: filter.path)
    }
}
