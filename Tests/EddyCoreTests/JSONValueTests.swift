import Testing

@testable import EddyCore

@Suite struct JSONValueTests {
    /// The examples of RFC 7396, Appendix A.
    @Test(arguments: [
        (#"{"a":"b"}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"b"}"#, #"{"b":"c"}"#, #"{"a":"b","b":"c"}"#),
        (#"{"a":"b"}"#, #"{"a":null}"#, #"{}"#),
        (#"{"a":"b","b":"c"}"#, #"{"a":null}"#, #"{"b":"c"}"#),
        (#"{"a":["b"]}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"c"}"#, #"{"a":["b"]}"#, #"{"a":["b"]}"#),
        (#"{"a":{"b":"c"}}"#, #"{"a":{"b":"d","c":null}}"#, #"{"a":{"b":"d"}}"#),
        (#"{"a":[{"b":"c"}]}"#, #"{"a":[1]}"#, #"{"a":[1]}"#),
        (#"["a","b"]"#, #"["c","d"]"#, #"["c","d"]"#),
        (#"{"a":"b"}"#, #"["c"]"#, #"["c"]"#),
        (#"{"a":"foo"}"#, #"null"#, #"null"#),
        (#"{"a":"foo"}"#, #""bar""#, #""bar""#),
        (#"{"e":null}"#, #"{"a":1}"#, #"{"a":1,"e":null}"#),
        (#"[1,2]"#, #"{"a":"b","c":null}"#, #"{"a":"b"}"#),
        (#"{}"#, #"{"a":{"bb":{"ccc":null}}}"#, #"{"a":{"bb":{}}}"#),
    ])
    func mergePatchFollowsRFC7396(original: String, patch: String, result: String) throws {
        let merged = try JSONValue(parsing: original).merging(patch: try JSONValue(parsing: patch))
        #expect(merged == (try JSONValue(parsing: result)))
    }

    @Test func serialisesCompactlyInMemberOrder() throws {
        let value = try JSONValue(parsing: #"{ "b": [1, 2.5, true, null], "a": "x\"y\n\u0001" }"#)
        #expect(value.text == #"{"b":[1,2.5,true,null],"a":"x\"y\n\u0001"}"#)
        #expect(try JSONValue(parsing: value.text) == value)
    }

    @Test func keepsLargeIntegersExact() throws {
        let value = try JSONValue(parsing: #"{"n":9007199254740993}"#)
        #expect(value.text == #"{"n":9007199254740993}"#)
    }

    @Test func collectionItemsCarryTheirID() {
        #expect(StoredResource.item(id: "x", value: "{}") == #"{"id":"x"}"#)
        #expect(StoredResource.item(id: "x\"", value: #"{"a":1}"#) == #"{"id":"x\"","a":1}"#)
        #expect(StoredResource.item(id: "x", value: #"{"a":1,"id":"mine"}"#) == #"{"a":1,"id":"x"}"#)
    }

    @Test func parsesETagConditions() {
        #expect(ETagCondition(header: "*") == .any)
        #expect(ETagCondition(header: #""a", W/"b""#) == .tags([ETag(opaque: "a"), ETag(opaque: "b")]))
        #expect(ETagCondition(header: "a") == nil)
        #expect(ETagCondition(header: #""unterminated"#) == nil)
    }
}
