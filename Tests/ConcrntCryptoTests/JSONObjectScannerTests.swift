@testable import ConcrntCrypto
import Testing

@Suite("JSONObjectScanner")
struct JSONObjectScannerTests {
    private func members(_ text: String) -> [String: String]? {
        let bytes = Array(text.utf8)
        guard let found = JSONObjectScanner.topLevelMembers(of: bytes) else { return nil }
        var result = [String: String]()
        for member in found {
            result[member.key] = String(decoding: bytes[member.valueRange], as: UTF8.self)
        }
        return result
    }

    @Test("raw member values are exact substrings")
    func rawValues() {
        let text = #" { "a" : 1.50e3 , "b":"x\"}]\\","c":{"d":[1,{"e":"]}"}]},"\u0076alue":[ true ,null], "f":false } "#
        let found = members(text)
        #expect(found?["a"] == "1.50e3")
        #expect(found?["b"] == #""x\"}]\\""#)
        #expect(found?["c"] == #"{"d":[1,{"e":"]}"}]}"#)
        #expect(found?["value"] == "[ true ,null]")
        #expect(found?["f"] == "false")
    }

    @Test("escaped keys decode, including surrogate pairs")
    func escapedKeys() {
        let found = members(#"{"\ud83c\udf89":1,"a\nb":2,"\u00e9":3}"#)
        #expect(found?["🎉"] == "1")
        #expect(found?["a\nb"] == "2")
        #expect(found?["é"] == "3")
    }

    @Test("non-objects and broken text give nil", arguments: ["", "[]", "1", "{", #"{"a"}"#, #"{"a":}"#, #"{"a":1"#, #"{"a":1}x"#, #"{"a":"x}"#])
    func invalid(text: String) {
        #expect(members(text) == nil)
    }

    @Test("empty object")
    func empty() {
        #expect(members(" {} ") == [:])
    }
}
