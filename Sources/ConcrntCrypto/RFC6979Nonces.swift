import Crypto

/// The ECDSA nonce candidates of RFC 6979 §3.2 with HMAC-SHA-256, for a 256-bit curve order.
///
/// Signing is deterministic so that a signature depends only on the key and the message (the
/// published vectors pin exact signatures), and so that no weak random source can leak the key.
/// The caller takes the first candidate in 1..<n; each further call is the specification's
/// retry step (h), which libsecp256k1 and Python's `ecdsa` follow too.
struct RFC6979Nonces {
    private var key: SymmetricKey
    private var value: [UInt8]
    private var isFirst = true

    /// `secretKey` is int2octets(x); `reducedDigest` is bits2octets(h1): the digest reduced
    /// modulo the order, 32 bytes.
    init(secretKey: [UInt8], reducedDigest: [UInt8]) {
        precondition(secretKey.count == 32 && reducedDigest.count == 32)
        var k = SymmetricKey(data: [UInt8](repeating: 0x00, count: 32))
        var v = [UInt8](repeating: 0x01, count: 32)
        for separator: UInt8 in [0x00, 0x01] {
            k = SymmetricKey(data: Self.mac(v + [separator] + secretKey + reducedDigest, key: k))
            v = Self.mac(v, key: k)
        }
        key = k
        value = v
    }

    /// The next 32-byte candidate for k (bits2int of T; one HMAC block covers 256 bits).
    mutating func next() -> [UInt8] {
        if !isFirst {
            key = SymmetricKey(data: Self.mac(value + [0x00], key: key))
            value = Self.mac(value, key: key)
        }
        isFirst = false
        value = Self.mac(value, key: key)
        return value
    }

    private static func mac(_ message: [UInt8], key: SymmetricKey) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
    }
}
