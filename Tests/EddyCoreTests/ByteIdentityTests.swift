import Testing

@testable import EddyCore

/// Names that Swift's `String` takes for equal (canonical equivalence) but whose bytes differ.
@Suite struct ByteIdentityTests {
    static let kelvin = "\u{212A}evin"
    static let composed = "caf\u{E9}"
    static let decomposed = "cafe\u{301}"

    @Test func canonicallyEquivalentNamesAreDifferentIdentities() {
        #expect(Self.kelvin == "Kevin" && Self.composed == Self.decomposed, "the premise: String == is canonical")
        #expect(ByteIdentity(Self.kelvin) != ByteIdentity("Kevin"))
        #expect(ByteIdentity(Self.composed) != ByteIdentity(Self.decomposed))
        #expect(Set([ByteIdentity(Self.composed), ByteIdentity(Self.decomposed), ByteIdentity("Kevin"), ByteIdentity(Self.kelvin)]).count == 4)
        #expect(!ByteIdentity.same(Self.kelvin, "Kevin"))
        #expect(ByteIdentity.same(nil, nil) && !ByteIdentity.same("a", nil))
    }

    @Test func equalBytesAreOneIdentityWhateverTheStorage() {
        let built = String(decoding: Array("a long name that is not stored inline \u{E9}".utf8), as: UTF8.self)
        let literal = "a long name that is not stored inline \u{E9}"
        #expect(ByteIdentity(built) == ByteIdentity(literal))
        #expect(ByteIdentity(built).hashValue == ByteIdentity(literal).hashValue)
        #expect(built.hasSameBytes(as: literal) && "".hasSameBytes(as: ""))
        let differsAtTheEnd = String(decoding: Array("a long name that is not stored inline \u{E8}".utf8), as: UTF8.self)
        #expect(!built.hasSameBytes(as: differsAtTheEnd) && !"short a".hasSameBytes(as: "short b"))
    }

    @Test func ordersByBytes() {
        // U+212A sorts after every ASCII letter by bytes, wherever canonical order puts it.
        #expect(ByteIdentity("Kz") < ByteIdentity(Self.kelvin))
        #expect(ByteIdentity("/a/") < ByteIdentity("/a0"))
        #expect(!(ByteIdentity("b") < ByteIdentity("b")))
    }

    @Test func prefixesAreBytePrefixes() {
        #expect("/a/\u{301}x".hasBytePrefix("/a/"), "a '/' and a combining mark make one Character")
        #expect(!"/a/\u{301}x".hasPrefix("/a/"), "the premise: hasPrefix compares characters")
        #expect(!"/a/\u{212A}/x".hasBytePrefix("/a/K/"))
    }

    @Test func pathsAreIdentities() throws {
        let composed = try ResourcePath(parsing: "/u/caf%C3%A9")
        let decomposed = try ResourcePath(parsing: "/u/cafe%CC%81")
        #expect(composed != decomposed)
        #expect(Set([composed, decomposed]).count == 2)
        #expect(SubscriptionFilter.value(composed).matches(composed))
        #expect(!SubscriptionFilter.value(composed).matches(decomposed))

        let kevin = try ResourcePath(parsing: "/users/Kevin/")
        #expect(!kevin.contains(try ResourcePath(parsing: "/users/%E2%84%AAevin/doc")))
        #expect(kevin.contains(try ResourcePath(parsing: "/users/Kevin/doc")))
        // A child whose name starts with a combining mark is still below its collection.
        let a = try ResourcePath(parsing: "/a/")
        let child = try ResourcePath(parsing: "/a/%CC%81x")
        #expect(a.contains(child))
        #expect(SubscriptionFilter.subtree(a).matches(child))
        #expect(child.parent == a)
    }

    @Test func reservedSegmentsAreFoundByBytes() {
        #expect(throws: PathError.self) { try ResourcePath(parsing: "/.%CC%81eddy") }
    }

    @Test func encodingKeysShareOnlyEqualBytes() {
        let keys = EncodingKeys()
        let composed = keys.shared("lr-ws-frame:/u/" + Self.composed)
        let decomposed = keys.shared("lr-ws-frame:/u/" + Self.decomposed)
        #expect(composed.utf8.elementsEqual("lr-ws-frame:/u/\(Self.composed)".utf8))
        #expect(decomposed.utf8.elementsEqual("lr-ws-frame:/u/\(Self.decomposed)".utf8))
        #expect(keys.count == 2)
    }

    @Test func memberNamesAreIdentities() throws {
        let value = try JSONValue(parsing: #"{"\u00e9":1,"e\u0301":2,"K":3,"\u212A":4}"#)
        #expect(value.objectValue?.count == 4)
        #expect(value["\u{E9}"] == .int(1) && value["e\u{301}"] == .int(2))
        #expect(value["K"] == .int(3) && value["\u{212A}"] == .int(4))
        #expect(value.text == "{\"\u{E9}\":1,\"e\u{301}\":2,\"K\":3,\"\u{212A}\":4}")
        #expect(value != (try JSONValue(parsing: #"{"\u00e9":2,"e\u0301":1,"K":3,"\u212A":4}"#)))

        let patched = value.merging(patch: try JSONValue(parsing: #"{"e\u0301":null,"\u212A":5}"#))
        #expect(patched.text == "{\"\u{E9}\":1,\"K\":3,\"\u{212A}\":5}")
    }
}
