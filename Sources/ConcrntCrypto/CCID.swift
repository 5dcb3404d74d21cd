import Crypto

/// Concrnt identifiers derived from secp256k1 public keys.
///
/// Both are bech32 (BIP-173) of RIPEMD-160(SHA-256(33-byte compressed public key)):
/// an entity's CCID uses the human-readable part `con`, a server's id (csid) uses `ccs`.
public enum CCID {
    /// Human-readable part of an entity CCID.
    public static let entityPrefix = "con"
    /// Human-readable part of a server id (csid).
    public static let serverPrefix = "ccs"

    /// The entity CCID (`con1…`) for a 33-byte compressed public key.
    public static func from(compressedPublicKey: some Collection<UInt8>) -> String {
        Bech32.encode(hrp: entityPrefix, data: addressBytes(compressedPublicKey: compressedPublicKey))
    }

    /// The server id / csid (`ccs1…`) for a 33-byte compressed public key.
    public static func serverID(compressedPublicKey: some Collection<UInt8>) -> String {
        Bech32.encode(hrp: serverPrefix, data: addressBytes(compressedPublicKey: compressedPublicKey))
    }

    /// RIPEMD-160(SHA-256(key)): the 20 bytes a CCID or csid encodes.
    public static func addressBytes(compressedPublicKey: some Collection<UInt8>) -> [UInt8] {
        RIPEMD160.hash(Array(SHA256.hash(data: Array(compressedPublicKey))))
    }

    /// Whether `string` is a well-formed lower-case bech32 id with `prefix` and a 20-byte payload.
    /// (Checks form only; it says nothing about who holds the key.)
    public static func isValid(_ string: String, prefix: String = entityPrefix) -> Bool {
        guard let decoded = try? Bech32.decode(string) else { return false }
        return decoded.hrp == prefix && decoded.data.count == 20 && string == string.lowercased()
    }
}
