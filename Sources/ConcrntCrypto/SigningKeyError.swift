/// Why bytes were refused as a secp256k1 private key.
public enum SigningKeyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not exactly 32 bytes (or not 64 hex digits).
    case invalidLength(Int)
    /// Not hex.
    case invalidHex
    /// Zero or not below the curve order.
    case invalidScalar

    public var description: String {
        switch self {
        case .invalidLength(let count): "secp256k1 private key must be 32 bytes, got \(count)"
        case .invalidHex: "secp256k1 private key is not valid hex"
        case .invalidScalar: "secp256k1 private key is zero or not below the curve order"
        }
    }
}
