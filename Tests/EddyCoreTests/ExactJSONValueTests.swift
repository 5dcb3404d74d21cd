import Foundation
import Testing

@testable import EddyCore

/// JSON as the client wrote it: no member named twice, order and number spellings kept.
@Suite struct ExactJSONValueTests {
    @Test(arguments: [
        #"{"a":1,"a":2}"#, #"{"a":1,"\u0061":2}"#, #"{"x":{"b":[],"b":null}}"#, #"[{"k":1,"k":1}]"#,
    ])
    func refusesAMemberNamedTwice(_ text: String) {
        #expect(throws: JSONError.self) { try JSONValue(parsing: text) }
        #expect(throws: JSONError.self) { try JSONDocument(validatingObject: Array(text.utf8)) }
    }

    @Test func keepsNumbersAsWritten() throws {
        for number in ["12345678901234567890123", "-12345678901234567890123", "1.0", "1e3", "1E+3", "-0", "0.10", "2.5", "-7", "1.5e-7"] {
            let value = try JSONValue(parsing: "[\(number)]")
            #expect(value.text == "[\(number)]")
        }
        #expect(try JSONValue(parsing: "1") == .int(1))
        #expect(try JSONValue(parsing: "2.5") == .double(2.5))
        #expect(try JSONValue(parsing: "1.0") == .number("1.0"))
        #expect(try JSONValue(parsing: "1.0").doubleValue == 1)
    }

    @Test func keepsMemberOrderAndComparesWithoutIt() throws {
        let value = try JSONValue(parsing: #"{"b":1,"a":2,"c":{"z":1,"y":2}}"#)
        #expect(value.text == #"{"b":1,"a":2,"c":{"z":1,"y":2}}"#)
        #expect(value == (try JSONValue(parsing: #"{"c":{"y":2,"z":1},"a":2,"b":1}"#)))
        #expect(value.hashValue == (try JSONValue(parsing: #"{"c":{"y":2,"z":1},"a":2,"b":1}"#)).hashValue)
    }

    @Test func mergePatchKeepsOrderAndSpellingsAndAppendsNewMembers() throws {
        let current = try JSONValue(parsing: #"{"z":1.0,"a":12345678901234567890123,"m":{"y":1e3,"b":2},"gone":true}"#)
        let patch = try JSONValue(parsing: #"{"m":{"b":3,"new":1.50},"gone":null,"q":{"r":null,"s":1.0}}"#)
        #expect(current.merging(patch: patch).text == #"{"z":1.0,"a":12345678901234567890123,"m":{"y":1e3,"b":3,"new":1.50},"q":{"s":1.0}}"#)
    }

    @Test func encodesThroughCodable() throws {
        let value = try JSONValue(parsing: #"{"b":1,"a":[true,null,"x"],"c":{"d":2.5}}"#)
        #expect(try JSONValue(parsing: Array(try JSONEncoder().encode(value))) == value)
    }

    @Test func documentsKeepEveryByte() throws {
        let text = "{ \"b\" : 1,\n\t\"a\":12345678901234567890123 ,\"c\":1.0, \"\\u00e9\":\"\\/\"}\n"
        let document = try #require(try JSONDocument(validatingObject: Array(text.utf8)))
        #expect(document.text.utf8.elementsEqual(text.utf8))
        #expect(try JSONDocument(validatingObject: Array("[1]".utf8)) == nil)
    }

    @Test func collectionItemsReplaceAnEscapedIDInPlace() {
        #expect(StoredResource.item(id: "x", value: #"{"a":1,"\u0069d":"mine"}"#) == #"{"a":1,"id":"x"}"#)
        #expect(StoredResource.item(id: "x", value: #"{"a":"\u00e9"}"#) == #"{"id":"x","a":"\u00e9"}"#)
    }
}
