/// A secp256k1 private key that signs Concrnt documents (CIP-1 `concrnt-ecrecover-direct`).
///
/// Deliberately not `CustomStringConvertible`/`Equatable`, so the secret does not
/// leak into logs or timing-dependent comparisons by accident.
public struct SigningKey: Sendable {
    /// The 32-byte big-endian secret scalar.
    public let rawRepresentation: [UInt8]
    /// The 33-byte SEC1 compressed public key.
    public let compressedPublicKey: [UInt8]

    /// Validates and adopts 32 raw secret bytes.
    public init(rawRepresentation: some Collection<UInt8>) throws(SigningKeyError) {
        let bytes = Array(rawRepresentation)
        guard bytes.count == 32 else { throw .invalidLength(bytes.count) }
        let context = Secp256k1Context.shared
        guard context.isValidSecretKey(bytes),
              let publicKey = context.compressedPublicKey(secretKey: bytes)
        else {
            throw .invalidScalar
        }
        self.rawRepresentation = bytes
        self.compressedPublicKey = publicKey
    }

    /// Validates and adopts a private key written as 64 hex digits (either case, no `0x`).
    public init(hex: String) throws(SigningKeyError) {
        guard let bytes = Hex.decode(hex) else { throw .invalidHex }
        try self.init(rawRepresentation: bytes)
    }

    /// A fresh key drawn from `generator`. Use a cryptographically secure generator
    /// (`SystemRandomNumberGenerator` is; see `generate()`); a seeded test generator
    /// gives reproducible but guessable keys.
    public init(random generator: inout some RandomNumberGenerator) {
        while true {
            var candidate = [UInt8](repeating: 0, count: 32)
            for index in candidate.indices { candidate[index] = generator.next() }
            // Fails only with probability ~2^-128 (zero or >= n); draw again then.
            if let key = try? SigningKey(rawRepresentation: candidate) {
                self = key
                return
            }
        }
    }

    /// A fresh key from the system's cryptographically secure generator.
    public static func generate() -> SigningKey {
        var generator = SystemRandomNumberGenerator()
        return SigningKey(random: &generator)
    }

    /// Lower-case hex of the secret (64 digits), e.g. for a server's key file.
    public var hexRepresentation: String { Hex.encode(rawRepresentation) }

    /// The entity CCID (`con1…`) of this key.
    public var ccid: String { CCID.from(compressedPublicKey: compressedPublicKey) }

    /// The server id (`ccs1…`) of this key.
    public var csid: String { CCID.serverID(compressedPublicKey: compressedPublicKey) }

    /// Signs Keccak-256(`message`) and returns the 130 lower-case hex digits of
    /// r‖s‖v (v = recovery id, 0 or 1). Deterministic (RFC 6979) and low-s.
    public func sign(_ message: some Collection<UInt8>) -> String {
        Hex.encode(signature(for: message))
    }

    /// The 65 raw signature bytes r‖s‖v over Keccak-256(`message`).
    public func signature(for message: some Collection<UInt8>) -> [UInt8] {
        let digest = Keccak256.hash(message)
        guard let (compact, recoveryID) = Secp256k1Context.shared.signRecoverable(
            digest: digest, secretKey: rawRepresentation
        ) else {
            // Unreachable: the key was validated at init and the digest is 32 bytes.
            preconditionFailure("secp256k1 signing failed for a validated key")
        }
        return compact + [UInt8(recoveryID)]
    }
}
