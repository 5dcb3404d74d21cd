@testable import ConcrntCrypto
import Testing

/// Decodes hex in tests (vectors are trusted, so a bad one is a test bug).
func bytes(hex: String) -> [UInt8] {
    guard let decoded = Hex.decode(hex) else { fatalError("bad hex in test vector: \(hex)") }
    return decoded
}

/// Runs `body` and returns the `SignedDocumentError` it threw, if any.
/// Any other error is recorded as a test issue.
func capture<T>(_ body: () throws -> T) -> SignedDocumentError? {
    do {
        _ = try body()
        return nil
    } catch let error as SignedDocumentError {
        return error
    } catch {
        Issue.record("unexpected error type: \(error)")
        return nil
    }
}

extension SignedDocumentError {
    /// The case's name without its payload, for tests that don't pin messages.
    var caseName: String {
        switch self {
        case .malformedEnvelope: "malformedEnvelope"
        case .unsupportedProofType: "unsupportedProofType"
        case .malformedSignature: "malformedSignature"
        case .signatureInvalid: "signatureInvalid"
        case .authorMismatch: "authorMismatch"
        case .malformedDocument: "malformedDocument"
        }
    }
}

/// The CCID test vector from Concrnt's field notes.
enum Vector {
    static let privateKeyHex = "3fcfac6c211b743975de2d7b3f622c12694b8125daf4013562c5a1aefa3253a5"
    static let compressedPublicKeyHex = "034cfab0e1b52b7efede58c179ccf3e47fc720fd91bea59c531e5409bbbfce2833"
    static let addressHex = "df0a61f39fce2a4d5daf6c74583531553e5a8abe"
    static let ccid = "con1mu9xruulec4y6hd0d369sdf325l94z4770m33d"
    static let csid = "ccs1mu9xruulec4y6hd0d369sdf325l94z4758nnd9"

    /// A document signed independently (Python `ecdsa`, RFC 6979, low-s) with the vector key.
    static let document = #"{"author":"con1mu9xruulec4y6hd0d369sdf325l94z4770m33d","schema":"https://schema.concrnt.net/note.json","key":"posts/hello","value":{"body":"こんにちは \"world\"\n"},"createdAt":"2025-11-23T12:34:56.789Z","memberOf":["cckv://con1mu9xruulec4y6hd0d369sdf325l94z4770m33d/timeline/home"]}"#
    static let documentKeccakHex = "64a8db5c45db7097c1cc7cc1ac6975a0f0aa06f4781288ee38d8b491b9e49703"
    static let signature = "86b4d007fc1d9df6d90d3e97668d9e1a80cde59a861340dbb1a3814187057627074f4a4d7f1141cf9886439dc430e36cba1af0206fc15313e15bf436428a336200"
    /// The same envelope as Python's `json.dumps` writes it (spaces, `\uXXXX` escapes).
    static let pythonEnvelope = #"{"document": "{\"author\":\"con1mu9xruulec4y6hd0d369sdf325l94z4770m33d\",\"schema\":\"https://schema.concrnt.net/note.json\",\"key\":\"posts/hello\",\"value\":{\"body\":\"\u3053\u3093\u306b\u3061\u306f \\\"world\\\"\\n\"},\"createdAt\":\"2025-11-23T12:34:56.789Z\",\"memberOf\":[\"cckv://con1mu9xruulec4y6hd0d369sdf325l94z4770m33d/timeline/home\"]}", "proof": {"type": "concrnt-ecrecover-direct", "signature": "86b4d007fc1d9df6d90d3e97668d9e1a80cde59a861340dbb1a3814187057627074f4a4d7f1141cf9886439dc430e36cba1af0206fc15313e15bf436428a336200"}}"#

    static var key: SigningKey {
        // The vector key is valid; `try!` keeps call sites short.
        try! SigningKey(hex: privateKeyHex)
    }
}
