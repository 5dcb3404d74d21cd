import ArgumentParser
import EddyServer
import Foundation

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Mint an HS256 bearer token for development.",
        discussion: "Example: eddy token --sub alice --secret \"$EDDY_JWT_SECRET\""
    )

    @Option(help: "The subject the token names.")
    var sub: String

    @Option(help: "The HS256 secret the server verifies with (EDDY_JWT_SECRET).")
    var secret: String?

    @Option(help: "Lifetime in seconds.")
    var lifetime: Int = 24 * 3600

    func validate() throws {
        guard !sub.isEmpty else { throw ValidationError("--sub must not be empty") }
        guard (secret ?? environment("JWT_SECRET"))?.isEmpty == false else { throw ValidationError("--secret (or EDDY_JWT_SECRET) is required") }
        guard lifetime > 0 else { throw ValidationError("--lifetime must be positive") }
    }

    func run() async throws {
        print(try await Authenticator.mint(subject: sub, secret: secret ?? environment("JWT_SECRET")!, lifetime: TimeInterval(lifetime)))
    }
}
