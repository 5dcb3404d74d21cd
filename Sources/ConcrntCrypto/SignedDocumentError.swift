/// Why a CIP-1 signed document was refused. Each failure stage has its own case.
public enum SignedDocumentError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The envelope is not `{"document":"<string>","proof":{"type":"…",…}}`.
    case malformedEnvelope(String)
    /// `proof.type` is not `concrnt-ecrecover-direct` (the payload is the type received).
    case unsupportedProofType(String)
    /// The signature is missing, not 130 hex digits, has a `0x` prefix, a bad v,
    /// or r/s not below the curve order.
    case malformedSignature(String)
    /// Public-key recovery failed: the signature matches no key for this document.
    case signatureInvalid
    /// The document's `author` is not the CCID of the key that signed it.
    case authorMismatch(expected: String, recovered: String)
    /// The signed text is not a JSON object with the required, well-typed fields.
    case malformedDocument(String)

    public var description: String {
        switch self {
        case .malformedEnvelope(let reason): "malformed signed-document envelope: \(reason)"
        case .unsupportedProofType(let type): "unsupported proof type \"\(type)\""
        case .malformedSignature(let reason): "malformed signature: \(reason)"
        case .signatureInvalid: "signature does not recover a public key for this document"
        case .authorMismatch(let expected, let recovered):
            "document author \(expected) does not match signer \(recovered)"
        case .malformedDocument(let reason): "malformed document: \(reason)"
        }
    }
}
