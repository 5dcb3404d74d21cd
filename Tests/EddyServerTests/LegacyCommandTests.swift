import EddyCore
@testable import EddyServer
import Testing

/// `solid-0.1` lines, parsed without a socket: what is subscribed, what the acknowledgement
/// names, and why a line is refused.
@Suite struct LegacyCommandTests {
    static let host = "pod.example:8080"

    static func parse(_ line: String, host: String? = Self.host, scheme: String = "http") -> Result<LegacyCommand, LegacyCommand.Refusal> {
        Result { () throws(LegacyCommand.Refusal) in try LegacyCommand.parse(line[...], host: host, scheme: scheme) }
    }

    @Test(arguments: [
        ("sub http://pod.example:8080/notes/a", "http://pod.example:8080/notes/a", "/notes/a"),
        ("sub http://POD.example:8080/notes/", "http://POD.example:8080/notes/", "/notes/"),
        ("sub HTTP://pod.example:8080/x#me", "HTTP://pod.example:8080/x", "/x"),
        ("sub /notes/a", "http://pod.example:8080/notes/a", "/notes/a"),
        ("sub  /caf%C3%A9  ", "http://pod.example:8080/caf%C3%A9", "/caf%C3%A9"),
        ("sub http://pod.example:8080", "http://pod.example:8080/", "/"),
    ])
    func aSubscriptionNamesItsResourceAndItsURI(line: String, uri: String, path: String) throws {
        let command = try Self.parse(line).get()
        #expect(command.uri == uri)
        #expect(command.path.encoded == path)
    }

    @Test func theDefaultPortIsTheSchemes() throws {
        #expect(try Self.parse("sub https://pod.example/a", host: "pod.example").get().path.encoded == "/a")
        #expect(try Self.parse("sub http://pod.example:80/a", host: "pod.example").get().uri == "http://pod.example:80/a")
        #expect(throws: LegacyCommand.Refusal.self) { try Self.parse("sub http://pod.example:8081/a").get() }
    }

    @Test func hostRelativeURIsTakeTheServersScheme() throws {
        #expect(try Self.parse("sub /a", scheme: "https").get().uri == "https://pod.example:8080/a")
    }

    @Test(arguments: [
        ("", "empty line"),
        ("subscribe /a", "unknown command 'subscribe'"),
        ("pub /a", "unknown command 'pub'"),
        ("sub", "exactly one URI"),
        ("sub /a /b", "exactly one URI"),
        ("sub http://elsewhere.example/a", "Mismatched host"),
        ("sub http://pod.example:8080@evil.example/a", "Mismatched host"),
        ("sub //pod.example:8080/a", "neither"),
        ("sub ftp://pod.example:8080/a", "neither"),
        ("sub a", "neither"),
        ("sub http:///a", "names no host"),
        ("sub /a?b=c", "has a query"),
        ("sub /a//b", "names no resource"),
        ("sub /.eddy/ws", "names no resource"),
        ("sub /%ZZ", "names no resource"),
    ])
    func aMalformedLineIsRefusedWithItsReason(line: String, reason: String) {
        guard case .failure(let refusal) = Self.parse(line) else {
            Issue.record("\(line) was accepted")
            return
        }
        #expect(refusal.reason.contains(reason), "\(line): \(refusal.reason)")
    }

    @Test func anAbsoluteURIIsRefusedWhenTheSocketHadNoHost() {
        #expect(throws: LegacyCommand.Refusal.self) { try Self.parse("sub http://pod.example:8080/a", host: nil).get() }
        #expect(throws: LegacyCommand.Refusal.self) { try Self.parse("sub /a", host: nil).get() }
    }

    /// The host is compared as the server's name, never by canonical equivalence: a Kelvin sign
    /// is not a K.
    @Test func aHostThatOnlyLooksTheSameIsAnotherHost() {
        #expect(throws: LegacyCommand.Refusal.self) { try Self.parse("sub http://\u{212A}.example/a", host: "k.example").get() }
    }

    @Test func anUnknownCommandIsQuotedShortAndWithoutControlCharacters() {
        guard case .failure(let refusal) = Self.parse(String(repeating: "x", count: 100) + "\u{7} /a") else {
            Issue.record("accepted")
            return
        }
        #expect(refusal.reason.count < 100)
        #expect(!refusal.reason.contains("\u{7}"))
    }
}
