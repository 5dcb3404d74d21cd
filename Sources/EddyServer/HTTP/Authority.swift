/// A URL's `host[:port]`, compared as the same server: by bytes, ASCII letters without regard to
/// case (a Kelvin sign is not a K, though Swift's `lowercased()` makes it one), and a missing
/// port as the scheme's default, so `Example.com` on http is `example.com:80`.
enum Authority {
    /// Whether `lhs` and `rhs` name the same server when reached by `scheme`.
    static func same(_ lhs: Substring, _ rhs: Substring, scheme: Substring) -> Bool {
        let scheme = asciiLowercased(scheme)
        return withPort(asciiLowercased(lhs), scheme: scheme) == withPort(asciiLowercased(rhs), scheme: scheme)
    }

    private static func asciiLowercased(_ text: Substring) -> [UInt8] {
        text.utf8.map { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) ? $0 | 0x20 : $0 }
    }

    /// `host[:port]` with the scheme's default port made explicit.
    private static func withPort(_ authority: [UInt8], scheme: [UInt8]) -> [UInt8] {
        var hostEnd = 0
        if authority.first == UInt8(ascii: "["), let bracket = authority.firstIndex(of: UInt8(ascii: "]")) { hostEnd = bracket + 1 }
        if authority[hostEnd...].contains(UInt8(ascii: ":")) { return authority }
        let secure = scheme.elementsEqual("https".utf8) || scheme.elementsEqual("wss".utf8)
        return authority + Array((secure ? ":443" : ":80").utf8)
    }
}
