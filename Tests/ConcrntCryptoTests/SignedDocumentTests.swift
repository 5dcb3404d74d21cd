import ConcrntCrypto
import Foundation
import Testing

/// A document JSON text for `author`, in the shape Concrnt clients write.
private func makeDocument(
    author: String,
    body: String = "hello",
    createdAt: String = "2025-11-23T12:34:56.789Z",
    extra: String = ""
) -> String {
    #"{"key":"posts/1","schema":"https://schema.concrnt.net/note.json","value":{"body":"\#(body)"},"author":"\#(author)","createdAt":"\#(createdAt)"\#(extra)}"#
}

private func envelope(document: String, type: String = "concrnt-ecrecover-direct", signature: String) -> String {
    SignedDocument(document: document, signature: signature, proofType: type).jsonText
}

@Suite("SignedDocument: known vector")
struct SignedDocumentVectorTests {
    @Test("an envelope written by Python verifies, with every field")
    func pythonEnvelope() throws {
        let signed = try SignedDocument(json: Vector.pythonEnvelope)
        #expect(signed.document == Vector.document)
        #expect(signed.proofType == "concrnt-ecrecover-direct")
        #expect(signed.signature == Vector.signature)

        let verified = try signed.verify()
        #expect(verified.author == Vector.ccid)
        #expect(verified.key == "posts/hello")
        #expect(verified.schema == "https://schema.concrnt.net/note.json")
        #expect(verified.kind == nil)
        #expect(verified.createdAtText == "2025-11-23T12:34:56.789Z")
        #expect(abs(verified.createdAt.timeIntervalSince1970 - 1_763_901_296.789) < 1e-6)
        #expect(verified.memberOf == ["cckv://con1mu9xruulec4y6hd0d369sdf325l94z4770m33d/timeline/home"])
        #expect(verified.owner == nil)
        #expect(verified.effectiveOwner == Vector.ccid)
        #expect(verified.contentType == nil)
        #expect(verified.value == #"{"body":"こんにちは \"world\"\n"}"#)
        #expect(verified.document == Vector.document)
        #expect(verified.signature == Vector.signature)
        #expect(Hex.encode(verified.signerPublicKey) == Vector.compressedPublicKeyHex)
    }

    @Test("sign(document:with:) reproduces the independent signature, as compact JSON")
    func signProducesEnvelope() throws {
        let text = SignedDocument.sign(document: Vector.document, with: Vector.key)
        #expect(text.hasPrefix(#"{"document":"{\"author\":"#))
        #expect(text.hasSuffix(#","proof":{"type":"concrnt-ecrecover-direct","signature":"\#(Vector.signature)"}}"#))
        let parsed = try SignedDocument(json: text)
        #expect(parsed == SignedDocument(document: Vector.document, signature: Vector.signature))
        // Foundation agrees the envelope is JSON with the exact document string.
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["document"] as? String == Vector.document)
    }

    @Test("Codable round trip through JSONEncoder/JSONDecoder")
    func codable() throws {
        let signed = SignedDocument.signed(document: Vector.document, with: Vector.key)
        let data = try JSONEncoder().encode(signed)
        let decoded = try JSONDecoder().decode(SignedDocument.self, from: data)
        #expect(decoded == signed)
        #expect(try decoded.verify().author == Vector.ccid)
        #expect(try SignedDocument(jsonData: data) == signed)
    }

    @Test("upper-case hex and Ethereum-style v = 27/28 are accepted")
    func signatureVariants() throws {
        let upper = SignedDocument(document: Vector.document, signature: Vector.signature.uppercased())
        #expect(try upper.verify().author == Vector.ccid)
        #expect(try upper.verify().signature == Vector.signature.uppercased())

        let v27 = String(Vector.signature.dropLast(2)) + "1b"
        #expect(try SignedDocument(document: Vector.document, signature: v27).verify().author == Vector.ccid)

        // Flipping the recovery id recovers a different key: author mismatch.
        let v28 = String(Vector.signature.dropLast(2)) + "1c"
        #expect(capture { try SignedDocument(document: Vector.document, signature: v28).verify() }?.caseName == "authorMismatch")
    }
}

@Suite("SignedDocument: round trips")
struct SignedDocumentRoundTripTests {
    @Test("sign then verify with fresh random keys")
    func freshKeys() throws {
        for index in 0..<16 {
            let key = SigningKey.generate()
            let document = makeDocument(
                author: key.ccid,
                body: "post \(index) ✓ 🎉",
                extra: #","memberOf":["a","b"],"owner":"\#(key.ccid)","contentType":"text/plain","kind":"upsert""#
            )
            let text = SignedDocument.sign(document: document, with: key)
            let verified = try SignedDocument(json: text).verify()
            #expect(verified.author == key.ccid)
            #expect(verified.signerPublicKey == key.compressedPublicKey)
            #expect(verified.document == document)
            #expect(verified.memberOf == ["a", "b"])
            #expect(verified.owner == key.ccid)
            #expect(verified.contentType == "text/plain")
            #expect(verified.kind == "upsert")
            #expect(verified.key == "posts/1")
            #expect(verified.value == #"{"body":"post \#(index) ✓ 🎉"}"#)
        }
    }

    @Test("the document is hashed byte for byte: whitespace and key order are kept")
    func exactBytes() throws {
        let key = SigningKey.generate()
        let document = "{\n  \"value\" : [1, 2.50, {\"x\": null}],\n  \"author\": \"\(key.ccid)\",\n  \"createdAt\": \"2025-01-01T00:00:00Z\",\n  \"kind\": \"delete\"\n}\n"
        let verified = try SignedDocument(json: SignedDocument.sign(document: document, with: key)).verify()
        #expect(verified.document == document)
        #expect(verified.value == #"[1, 2.50, {"x": null}]"#)
        #expect(verified.kind == "delete")
        #expect(verified.schema == nil)
        #expect(verified.key == nil)
        #expect(verified.memberOf.isEmpty)

        // The same JSON re-serialised differently is a different document: the signature no longer fits.
        let compact = #"{"value":[1,2.5,{"x":null}],"author":"\#(key.ccid)","createdAt":"2025-01-01T00:00:00Z","kind":"delete"}"#
        let signature = try #require(SignedDocument(json: SignedDocument.sign(document: document, with: key)).signature)
        let error = capture { try SignedDocument(document: compact, signature: signature).verify() }
        #expect(["authorMismatch", "signatureInvalid"].contains(error?.caseName))
    }

    @Test("verification is safe from many tasks at once")
    func concurrent() async throws {
        let keys = (0..<4).map { _ in SigningKey.generate() }
        let envelopes = keys.map { SignedDocument.sign(document: makeDocument(author: $0.ccid), with: $0) }
        let authors = try await withThrowingTaskGroup(of: String.self) { group in
            for round in 0..<64 {
                let text = envelopes[round % envelopes.count]
                group.addTask { try SignedDocument(json: text).verify().author }
            }
            var result = [String]()
            for try await author in group { result.append(author) }
            return result
        }
        #expect(authors.count == 64)
        #expect(Set(authors) == Set(keys.map(\.ccid)))
    }
}

@Suite("SignedDocument: refusals")
struct SignedDocumentRefusalTests {
    @Test("a tampered document (one byte changed) is refused")
    func tampered() throws {
        let key = SigningKey.generate()
        let document = makeDocument(author: key.ccid, body: "pay alice 10")
        let signed = SignedDocument.signed(document: document, with: key)
        let bodyRange = try #require(document.range(of: "pay alice 10"))
        let offset = document.utf8.distance(from: document.utf8.startIndex, to: bodyRange.lowerBound)
        for position in offset..<(offset + 12) {
            var bytes = Array(document.utf8)
            bytes[position] = bytes[position] == UInt8(ascii: "z") ? UInt8(ascii: "y") : UInt8(ascii: "z")
            let tampered = String(decoding: bytes, as: UTF8.self)
            #expect(tampered != document)
            let error = capture { try SignedDocument(document: tampered, signature: signed.signature).verify() }
            #expect(["authorMismatch", "signatureInvalid"].contains(error?.caseName), "position \(position): \(String(describing: error))")
        }
    }

    @Test("a tampered signature is refused")
    func tamperedSignature() throws {
        let key = SigningKey.generate()
        let document = makeDocument(author: key.ccid)
        let signature = try #require(SignedDocument.signed(document: document, with: key).signature)
        for position in [0, 31, 63, 64, 127] {
            var characters = Array(signature)
            characters[position] = characters[position] == "0" ? "1" : "0"
            let error = capture { try SignedDocument(document: document, signature: String(characters)).verify() }
            #expect(["authorMismatch", "signatureInvalid", "malformedSignature"].contains(error?.caseName))
        }
    }

    @Test("a document whose author is another CCID is refused with both CCIDs")
    func otherAuthor() {
        let signer = SigningKey.generate()
        let claimed = SigningKey.generate()
        let document = makeDocument(author: claimed.ccid)
        let error = capture { try SignedDocument(json: SignedDocument.sign(document: document, with: signer)).verify() }
        #expect(error == .authorMismatch(expected: claimed.ccid, recovered: signer.ccid))
        #expect(error?.description.contains(claimed.ccid) == true)
    }

    @Test("malformed envelopes", arguments: [
        "",
        "not json",
        "[]",
        "\"document\"",
        #"{"proof":{"type":"concrnt-ecrecover-direct","signature":"00"}}"#,
        #"{"document":{"author":"x"},"proof":{"type":"concrnt-ecrecover-direct","signature":"00"}}"#,
        #"{"document":null,"proof":{"type":"concrnt-ecrecover-direct","signature":"00"}}"#,
        #"{"document":"{}"}"#,
        #"{"document":"{}","proof":"concrnt-ecrecover-direct"}"#,
        #"{"document":"{}","proof":{"signature":"00"}}"#,
        #"{"document":"{}","proof":{"type":7,"signature":"00"}}"#,
        #"{"document":"{}","proof":{"type":"concrnt-ecrecover-direct","signature":123}}"#,
        #"{"document":"{}","proof":{"type":"concrnt-ecrecover-direct"}"#,
    ])
    func malformedEnvelope(text: String) {
        #expect(capture { try SignedDocument(json: text) }?.caseName == "malformedEnvelope")
    }

    @Test("unsupported proof types", arguments: ["none", "document-reference", "concrnt-ecrecover-subkey", "", "CONCRNT-ECRECOVER-DIRECT"])
    func unsupportedProof(type: String) throws {
        let text = envelope(document: Vector.document, type: type, signature: Vector.signature)
        let signed = try SignedDocument(json: text)
        #expect(capture { try signed.verify() } == .unsupportedProofType(type))
    }

    @Test("a proof without a signature parses but does not verify")
    func missingSignature() throws {
        let signed = try SignedDocument(json: #"{"document":"{}","proof":{"type":"concrnt-ecrecover-direct"}}"#)
        #expect(signed.signature == nil)
        #expect(capture { try signed.verify() } == .malformedSignature("missing proof.signature"))
        // Other proof types legitimately carry no signature.
        let reference = try SignedDocument(json: #"{"document":"{}","proof":{"type":"document-reference","href":"cc://x"}}"#)
        #expect(capture { try reference.verify() } == .unsupportedProofType("document-reference"))
    }

    static let malformedSignatures: [String] = {
        let signature: String = Vector.signature
        let withoutV = String(signature.dropLast(2))
        let withoutLast = String(signature.dropLast(1))
        let withoutFirst = String(signature.dropFirst())
        let ones = String(repeating: "1", count: 64)
        let order = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
        var list = [String]()
        list.append("0x" + signature)          // 0x prefix
        list.append("0x" + withoutV)           // 0x prefix, 130 characters in all
        list.append(withoutV)                  // 128 digits
        list.append(withoutLast)               // 129 digits
        list.append(signature + "0")           // 131 digits
        list.append(signature + "00")          // 132 digits
        list.append("")
        list.append(withoutLast + "g")         // not hex
        list.append("z" + withoutFirst)        // not hex
        list.append(" " + withoutFirst)        // not hex
        list.append(withoutLast + "é")         // 130 characters but 131 bytes
        list.append(withoutV + "02")           // v out of range
        list.append(withoutV + "1d")           // v = 29
        list.append(withoutV + "ff")           // v = 255
        list.append(order + ones + "00")       // r = n, not below the order
        list.append(ones + String(repeating: "f", count: 64) + "01") // s ≥ n
        return list
    }()

    @Test("malformed signatures", arguments: malformedSignatures)
    func malformedSignature(signature: String) {
        let error = capture { try SignedDocument(document: Vector.document, signature: signature).verify() }
        #expect(error?.caseName == "malformedSignature", "\(signature): \(String(describing: error))")
    }

    @Test("a signature that recovers no key is signatureInvalid")
    func unrecoverable() {
        let zero = String(repeating: "0", count: 128) + "00"
        #expect(capture { try SignedDocument(document: Vector.document, signature: zero).verify() } == .signatureInvalid)
        let zeroS = String(Vector.signature.prefix(64)) + String(repeating: "0", count: 64) + "01"
        #expect(capture { try SignedDocument(document: Vector.document, signature: zeroS).verify() } == .signatureInvalid)
    }

    @Test("malformed documents signed by their author are refused")
    func malformedDocuments() {
        let key = SigningKey.generate()
        let author = key.ccid
        let documents = [
            "hello",
            "",
            "[]",
            #""\#(author)""#,
            #"{"createdAt":"2025-01-01T00:00:00Z"}"#,
            #"{"author":42,"createdAt":"2025-01-01T00:00:00Z"}"#,
            #"{"author":"\#(author)"}"#,
            #"{"author":"\#(author)","createdAt":"yesterday"}"#,
            #"{"author":"\#(author)","createdAt":"2025-01-01T00:00:00Z","memberOf":"timeline"}"#,
            #"{"author":"\#(author)","createdAt":"2025-01-01T00:00:00Z","memberOf":[1]}"#,
            #"{"author":"\#(author)","createdAt":"2025-01-01T00:00:00Z","key":{}}"#,
            #"{"author":"\#(author)","createdAt":"2025-01-01T00:00:00Z","value":1,"value":2}"#,
            #"{"author":"\#(author)","author":"\#(author)","createdAt":"2025-01-01T00:00:00Z"}"#,
            #"{"author":"\#(author)","createdAt":"2025-01-01T00:00:00Z"} trailing"#,
        ]
        for document in documents {
            let error = capture { try SignedDocument.signed(document: document, with: key).verify() }
            #expect(error?.caseName == "malformedDocument", "\(document): \(String(describing: error))")
        }
    }

    @Test("minimal valid document: author and createdAt only")
    func minimal() throws {
        let key = SigningKey.generate()
        let document = #"{"author":"\#(key.ccid)","createdAt":"2025-01-01T00:00:00Z"}"#
        let verified = try SignedDocument.signed(document: document, with: key).verify()
        #expect(verified.value == nil)
        #expect(verified.key == nil)
        #expect(verified.memberOf.isEmpty)
    }

    @Test("errors describe themselves")
    func descriptions() {
        let errors: [SignedDocumentError] = [
            .malformedEnvelope("x"), .unsupportedProofType("none"), .malformedSignature("y"),
            .signatureInvalid, .authorMismatch(expected: "a", recovered: "b"), .malformedDocument("z"),
        ]
        #expect(Set(errors.map(\.description)).count == errors.count)
        #expect(Set(errors.map(\.caseName)).count == errors.count)
    }
}
