@testable import EddyServer
import Testing

/// Two authorities name the same server by bytes, ASCII case aside, default ports filled in.
@Suite struct AuthorityTests {
    @Test(arguments: [
        ("example.com", "example.com:80", "http", true),
        ("Example.COM", "example.com", "http", true),
        ("example.com", "example.com:443", "https", true),
        ("example.com", "example.com:443", "wss", true),
        ("example.com", "example.com:443", "http", false),
        ("example.com:8080", "example.com:8081", "http", false),
        ("[::1]:8080", "[::1]:8080", "http", true),
        ("[::1]", "[::1]:80", "HTTP", true),
        ("\u{212A}.example", "k.example", "http", false),
        ("caf\u{E9}.example", "cafe\u{301}.example", "http", false),
    ])
    func sameServer(lhs: String, rhs: String, scheme: String, same: Bool) {
        #expect(Authority.same(lhs[...], rhs[...], scheme: scheme[...]) == same)
    }

    /// A page whose origin only looks like the server's may not use the user's cookie.
    @Test func corsTellsALookAlikeOriginFromTheServersOwn() {
        let cors = CORS(allowedOrigins: [])
        #expect(cors.mayUseCookies(origin: "http://k.example:8080", host: "K.example:8080"))
        #expect(!cors.mayUseCookies(origin: "http://\u{212A}.example:8080", host: "k.example:8080"))
    }
}
