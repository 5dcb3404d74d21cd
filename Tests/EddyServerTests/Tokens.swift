import EddyServer
import EddyTestSupport
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

extension RunningServer {
    /// Runs `body` against a fresh server guarded by `policy` that accepts the test tokens.
    static func with(
        policy: String, configure: @escaping (inout ServerConfiguration) -> Void = { _ in }, _ body: (RunningServer) async throws -> Void
    ) async throws {
        let file = try Tokens.writePolicy(policy)
        defer { try? FileManager.default.removeItem(at: file) }
        try await RunningServer.with(configure: {
            $0.policyFile = file
            $0.jwtSecret = Tokens.secret
            configure(&$0)
        }) { server in try await body(server) }
    }
}
