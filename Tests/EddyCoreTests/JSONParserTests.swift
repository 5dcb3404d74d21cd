import Testing

@testable import EddyCore

@Suite struct JSONParserTests {
    @Test(arguments: [
        "", "{", #"{"a":}"#, "[1,]", #"{"a":1,}"#, "{} {}", "nul", "01", "1.", "-", "1e", #""\x""#, #""\ud800""#,
        "\"a\nb\"", "'a'", "{a:1}", "// c\n{}", "NaN", "1e999",
    ])
    func refusesMalformedJSON(_ text: String) {
        #expect(throws: JSONError.self) { try JSONValue(parsing: text) }
    }

    @Test func refusesInvalidUTF8AndDeepNesting() {
        #expect(throws: JSONError.self) { try JSONValue(parsing: [0x22, 0xC3, 0x28, 0x22] as [UInt8]) }
        let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        #expect(throws: JSONError.self) { try JSONValue(parsing: deep) }
        let fine = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: Never.self) { try JSONValue(parsing: fine) }
    }

    @Test func decodesEscapesAndNumbers() throws {
        #expect(try JSONValue(parsing: #""\u00e9\ud83d\ude00\/\t""#) == .string("é😀/\t"))
        #expect(try JSONValue(parsing: " -0.5e2 ") == .number("-0.5e2"))
        #expect(try JSONValue(parsing: " -0.5e2 ").doubleValue == -50)
        #expect(try JSONValue(parsing: "-0.25") == .double(-0.25))
        #expect(try JSONValue(parsing: "-12") == .int(-12))
    }
}
