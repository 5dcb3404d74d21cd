import Foundation
import JWTKit

/// The claims Eddy reads from a bearer token: who (`sub`), until when (`exp`) and, when the
/// token says, from when (`nbf`).
public struct EddyClaims: JWTPayload {
    public var sub: SubjectClaim
    public var exp: ExpirationClaim
    public var nbf: NotBeforeClaim?

    public init(subject: String, expires: Date, notBefore: Date? = nil) {
        self.sub = SubjectClaim(value: subject)
        self.exp = ExpirationClaim(value: expires)
        self.nbf = notBefore.map(NotBeforeClaim.init(value:))
    }

    public func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        // RFC 7519 §4.1.5: a token MUST NOT be accepted before its `nbf`.
        if let nbf, nbf.value > Date() { throw AuthenticationError.notYetValid }
    }
}

/// Verifies bearer tokens: JWTs signed with an HS256 secret, or with keys from a JWKS file.
public struct Authenticator: Sendable {
    private let keys: JWTKeyCollection?

    /// No verifier: every token is refused, every request is anonymous.
    public static let none = Authenticator(keys: nil)

    private init(keys: JWTKeyCollection?) {
        self.keys = keys
    }

    public static func make(hmacSecret: String?, jwksJSON: String?) async throws -> Authenticator {
        guard hmacSecret != nil || jwksJSON != nil else { return .none }
        let keys = JWTKeyCollection()
        if let hmacSecret {
            await keys.add(hmac: HMACKey(from: hmacSecret), digestAlgorithm: .sha256)
        }
        if let jwksJSON {
            try await keys.add(jwksJSON: jwksJSON)
        }
        return Authenticator(keys: keys)
    }

    public var isEnabled: Bool { keys != nil }

    /// The subject of a valid token; throws `AuthenticationError` for anything else.
    public func subject(of token: String) async throws(AuthenticationError) -> String {
        guard let keys else { throw .invalid("this server accepts no tokens (start it with --jwt-secret or --jwks)") }
        do {
            let claims = try await keys.verify(token, as: EddyClaims.self)
            guard !claims.sub.value.isEmpty else { throw AuthenticationError.invalid("the token has an empty sub") }
            return claims.sub.value
        } catch let error as AuthenticationError {
            throw error
        } catch let error as JWTError where error.errorType == .claimVerificationFailure {
            throw .expired
        } catch {
            throw .invalid("the token could not be verified")
        }
    }

    /// Mints an HS256 token, for development (`eddy token`).
    public static func mint(subject: String, secret: String, lifetime: TimeInterval) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return try await keys.sign(EddyClaims(subject: subject, expires: Date().addingTimeInterval(lifetime)))
    }
}

public enum AuthenticationError: Error, Equatable, Sendable, CustomStringConvertible {
    case expired
    case notYetValid
    case invalid(String)

    public var description: String {
        switch self {
        case .expired: "the token has expired"
        case .notYetValid: "the token is not valid yet (its nbf is in the future)"
        case .invalid(let why): why
        }
    }
}
