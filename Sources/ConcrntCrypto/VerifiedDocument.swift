import Foundation

/// A CIP-1 document whose signature has been checked against its `author`.
///
/// Only produced by `SignedDocument.verify()`. All fields come from the exact
/// document text that was signed; nothing is re-serialised.
public struct VerifiedDocument: Sendable, Equatable {
    /// The author CCID (`con1…`), equal to the CCID of the recovered signing key.
    public let author: String
    /// The resource key, if any.
    public let key: String?
    /// The schema URL, if any (Concrnt omits it for some document kinds).
    public let schema: String?
    /// The document kind, e.g. `"delete"`, if any.
    public let kind: String?
    /// `createdAt` exactly as written (RFC 3339).
    public let createdAtText: String
    /// `createdAt` as an instant.
    public let createdAt: Date
    /// Collections/timelines the document is added to (empty when absent).
    public let memberOf: [String]
    /// The logical owner CCID, if given (Concrnt treats absent as `author`).
    public let owner: String?
    /// The content type, if any.
    public let contentType: String?
    /// The raw JSON text of the top-level `value` member, byte-for-byte as signed,
    /// or nil if the document has no `value`. Parse it with whatever type fits the schema.
    public let value: String?
    /// The exact document text that was signed (hash it, store it, forward it as is).
    public let document: String
    /// The signature exactly as received (130 hex digits).
    public let signature: String
    /// The 33-byte compressed public key recovered from the signature.
    public let signerPublicKey: [UInt8]

    /// `owner` if present, else `author`.
    public var effectiveOwner: String { owner ?? author }
}
