import ConcrntCrypto
import Foundation
import Testing

@Suite("RFC 3339")
struct RFC3339Tests {
    @Test("valid date-times", arguments: [
        ("1970-01-01T00:00:00Z", 0.0),
        ("2025-11-23T12:34:56.789Z", 1_763_901_296.789),
        ("2025-11-23T21:34:56.789+09:00", 1_763_901_296.789),
        ("2025-11-23t12:34:56z", 1_763_901_296.0),
        ("2025-11-23T07:04:56.123456789-05:30", 1_763_901_296.123456789),
        ("2000-02-29T00:00:00Z", 951_782_400.0),
        ("1969-12-31T23:59:59Z", -1.0),
        ("2016-12-31T23:59:60Z", 1_483_228_800.0),
    ])
    func valid(text: String, expected: Double) throws {
        let date = try #require(RFC3339.parse(text))
        #expect(abs(date.timeIntervalSince1970 - expected) < 1e-6)
    }

    @Test("invalid date-times", arguments: [
        "", "2025-11-23", "2025-11-23T12:34:56", "2025-11-23 12:34:56Z", "2025-13-01T00:00:00Z",
        "2025-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2025-11-31T00:00:00Z", "2025-11-23T24:00:00Z",
        "2025-11-23T12:60:00Z", "2025-11-23T12:34:61Z", "2025-11-23T12:34:56.Z", "2025-11-23T12:34:56+0900",
        "2025-11-23T12:34:56Zjunk", "25-11-23T12:34:56Z", "2025-11-23T12:34:56+24:00",
    ])
    func invalid(text: String) {
        #expect(RFC3339.parse(text) == nil)
    }
}
