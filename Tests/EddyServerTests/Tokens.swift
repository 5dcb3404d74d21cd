import EddyServer
import Foundation

/// Tokens for the access tests, all signed with one test secret.
enum Tokens {
    static let secret = "test-secret-that-is-long-enough-for-hs256"

    static func bearer(_ subject: String, lifetime: TimeInterval = 3600) async throws -> (String, String) {
        ("Authorization", "Bearer " + (try await Authenticator.mint(subject: subject, secret: secret, lifetime: lifetime)))
    }

    static func expired(_ subject: String) async throws -> (String, String) {
        try await bearer(subject, lifetime: -60)
    }

    static func writePolicy(_ text: String) throws -> URL {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-policy-\(UUID().uuidString).json")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file
    }
}
