import Foundation

/// A Concrnt CIP-1 signed document:
/// `{"document":"<json text>","proof":{"type":"concrnt-ecrecover-direct","signature":"<130 hex>"}}`.
///
/// `document` is kept as the exact string received; it is hashed as its UTF-8
/// bytes and never re-serialised.
///
/// Signature format accepted by `verify()`: exactly 130 hex digits, lower or
/// upper case (hex case carries no meaning and the hash covers only the document),
/// no `0x` prefix; r‖s‖v with v ∈ {0, 1}, or the Ethereum-style 27/28, which is
/// reduced by 27. High-s signatures are accepted (as go-ethereum's ecrecover does);
/// that malleability cannot change which document or author is proved.
public struct SignedDocument: Sendable, Equatable, Codable {
    /// The only proof type this module verifies.
    public static let ecrecoverProofType = "concrnt-ecrecover-direct"

    /// The exact signed document text.
    public let document: String
    /// `proof.type`.
    public let proofType: String
    /// `proof.signature`, if present (other proof types have none).
    public let signature: String?

    public init(document: String, signature: String?, proofType: String = SignedDocument.ecrecoverProofType) {
        self.document = document
        self.signature = signature
        self.proofType = proofType
    }

    /// Parses the envelope from JSON text.
    public init(json: String) throws(SignedDocumentError) {
        try self.init(jsonData: Data(json.utf8))
    }

    /// Parses the envelope from JSON bytes.
    public init(jsonData: some Collection<UInt8>) throws(SignedDocumentError) {
        let data = Data(jsonData)
        do {
            self = try JSONDecoder().decode(SignedDocument.self, from: data)
        } catch let error as SignedDocumentError {
            throw error
        } catch let error as DecodingError {
            throw .malformedEnvelope(Self.describe(error))
        } catch {
            throw .malformedEnvelope("not valid JSON")
        }
        // Foundation keeps one of two members of one name, another parser may keep the other:
        // an envelope with two `document`s would be verified as one and read as the other.
        let bytes = Array(data)
        guard let members = JSONObjectScanner.topLevelMembers(of: bytes) else { throw .malformedEnvelope("not a JSON object") }
        if let name = JSONObjectScanner.firstDuplicateKey(in: members) { throw .malformedEnvelope("duplicate key \"\(name)\"") }
        if let proof = members.first(where: { $0.key.utf8.elementsEqual("proof".utf8) }),
            let proofMembers = JSONObjectScanner.topLevelMembers(of: Array(bytes[proof.valueRange])),
            let name = JSONObjectScanner.firstDuplicateKey(in: proofMembers)
        {
            throw .malformedEnvelope("duplicate key \"proof.\(name)\"")
        }
    }

    // MARK: Codable

    private enum CodingKeys: String, CodingKey {
        case document, proof
    }

    private enum ProofKeys: String, CodingKey {
        case type, signature
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        document = try container.decode(String.self, forKey: .document)
        let proof = try container.nestedContainer(keyedBy: ProofKeys.self, forKey: .proof)
        proofType = try proof.decode(String.self, forKey: .type)
        signature = try proof.decodeIfPresent(String.self, forKey: .signature)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(document, forKey: .document)
        var proof = container.nestedContainer(keyedBy: ProofKeys.self, forKey: .proof)
        try proof.encode(proofType, forKey: .type)
        try proof.encodeIfPresent(signature, forKey: .signature)
    }

    /// The envelope as compact JSON text, keys in wire order
    /// (`document`, then `proof` with `type`, `signature`).
    public var jsonText: String {
        var output = "{\"document\":"
        output += JSONText.quoted(document)
        output += ",\"proof\":{\"type\":"
        output += JSONText.quoted(proofType)
        if let signature {
            output += ",\"signature\":"
            output += JSONText.quoted(signature)
        }
        output += "}}"
        return output
    }

    // MARK: Signing

    /// Signs `document` (its exact UTF-8 bytes) with `key`.
    public static func signed(document: String, with key: SigningKey) -> SignedDocument {
        SignedDocument(document: document, signature: key.sign(document.utf8))
    }

    /// Signs `document` with `key` and returns the envelope JSON text.
    public static func sign(document: String, with key: SigningKey) -> String {
        signed(document: document, with: key).jsonText
    }

    // MARK: Verification

    /// Checks the proof and returns the document's fields.
    ///
    /// Order: proof type → signature format → key recovery → document JSON →
    /// `author` equals the recovered CCID.
    public func verify() throws(SignedDocumentError) -> VerifiedDocument {
        guard proofType == Self.ecrecoverProofType else {
            throw .unsupportedProofType(proofType)
        }
        let (compact, recoveryID) = try Self.parseSignature(signature)

        let digest = Keccak256.hash(document.utf8)
        let publicKey: [UInt8]
        switch Secp256k1Context.shared.recoverCompressedPublicKey(
            compact: compact, recoveryID: recoveryID, digest: digest
        ) {
        case .unparsable:
            throw .malformedSignature("r or s is not below the curve order")
        case .failed:
            throw .signatureInvalid
        case .recovered(let key):
            publicKey = key
        }
        let recovered = CCID.from(compressedPublicKey: publicKey)

        let fields = try Self.parseDocument(document)
        guard fields.author == recovered else {
            throw .authorMismatch(expected: fields.author, recovered: recovered)
        }
        return VerifiedDocument(
            author: fields.author,
            key: fields.key,
            schema: fields.schema,
            kind: fields.kind,
            createdAtText: fields.createdAtText,
            createdAt: fields.createdAt,
            memberOf: fields.memberOf,
            owner: fields.owner,
            contentType: fields.contentType,
            value: fields.value,
            document: document,
            signature: signature ?? "",
            signerPublicKey: publicKey
        )
    }

    /// 130 hex digits → r‖s and a recovery id 0/1.
    private static func parseSignature(_ signature: String?) throws(SignedDocumentError) -> ([UInt8], Int32) {
        guard let signature else { throw .malformedSignature("missing proof.signature") }
        if signature.hasPrefix("0x") || signature.hasPrefix("0X") {
            throw .malformedSignature("must not have a 0x prefix")
        }
        guard signature.utf8.count == 130 else {
            throw .malformedSignature("expected 130 hex digits, got \(signature.utf8.count) bytes")
        }
        guard let bytes = Hex.decode(signature) else {
            throw .malformedSignature("not hexadecimal")
        }
        var v = bytes[64]
        if v == 27 || v == 28 { v -= 27 }
        guard v == 0 || v == 1 else {
            throw .malformedSignature("recovery id v must be 0, 1, 27 or 28, got \(bytes[64])")
        }
        return (Array(bytes[0..<64]), Int32(v))
    }

    private struct DocumentFields {
        var author: String
        var key: String?
        var schema: String?
        var kind: String?
        var createdAtText: String
        var createdAt: Date
        var memberOf: [String]
        var owner: String?
        var contentType: String?
        var value: String?
    }

    private struct DecodedFields: Decodable {
        var author: String
        var key: String?
        var schema: String?
        var kind: String?
        var createdAt: String
        var memberOf: [String]?
        var owner: String?
        var contentType: String?
    }

    private static func parseDocument(_ document: String) throws(SignedDocumentError) -> DocumentFields {
        let bytes = Array(document.utf8)
        let decoded: DecodedFields
        do {
            decoded = try JSONDecoder().decode(DecodedFields.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw .malformedDocument(describe(error))
        } catch {
            throw .malformedDocument("not valid JSON")
        }

        guard let members = JSONObjectScanner.topLevelMembers(of: bytes) else {
            throw .malformedDocument("not a JSON object")
        }
        if let name = JSONObjectScanner.firstDuplicateKey(in: members) {
            // Two parsers could disagree on which duplicate wins; refuse outright.
            throw .malformedDocument("duplicate key \"\(name)\"")
        }
        let value = members.first { $0.key.utf8.elementsEqual("value".utf8) }.map {
            String(decoding: bytes[$0.valueRange], as: UTF8.self)
        }

        guard let createdAt = RFC3339.parse(decoded.createdAt) else {
            throw .malformedDocument("createdAt \"\(decoded.createdAt)\" is not an RFC 3339 date-time")
        }
        return DocumentFields(
            author: decoded.author,
            key: decoded.key,
            schema: decoded.schema,
            kind: decoded.kind,
            createdAtText: decoded.createdAt,
            createdAt: createdAt,
            memberOf: decoded.memberOf ?? [],
            owner: decoded.owner,
            contentType: decoded.contentType,
            value: value
        )
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let components = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
            return components.isEmpty ? "top level" : components.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return parent == "top level" ? "missing \"\(key.stringValue)\"" : "missing \"\(parent).\(key.stringValue)\""
        case .typeMismatch(_, let context):
            return "wrong type at \(path(context))"
        case .valueNotFound(_, let context):
            return "null at \(path(context))"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON" : "invalid value at \(path(context))"
        @unknown default:
            return "undecodable"
        }
    }
}
