@testable import ConcrntCrypto
import FuzzDriver

/// CIP-1 signed envelopes (Concrnt commits): any bytes are an envelope or refused with a
/// `SignedDocumentError`; verifying one gives a document or an error, never a trap. The
/// top-level member scanner that guards against duplicate keys takes the same bytes.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzSignedDocument(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let members = JSONObjectScanner.topLevelMembers(of: bytes) {
        for member in members {
            guard member.valueRange.lowerBound >= 0, member.valueRange.upperBound <= bytes.count else {
                fatalError("member \(member.key) lies outside the input")
            }
        }
    }
    guard let envelope = try? SignedDocument(jsonData: bytes) else { return 0 }
    _ = envelope.jsonText
    _ = try? envelope.verify()
    // The document inside is itself client JSON: scan and verify it as an envelope too.
    _ = JSONObjectScanner.topLevelMembers(of: Array(envelope.document.utf8))
    _ = try? SignedDocument(json: envelope.document).verify()
    return 0
}

runFuzzer(fuzzSignedDocument)
