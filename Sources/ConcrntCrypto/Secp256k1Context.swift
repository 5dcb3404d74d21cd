import CSecp256k1

/// Owns one libsecp256k1 context, created and randomised once, shared process-wide.
///
/// Why this is `@unchecked Sendable`: libsecp256k1 documents (secp256k1.h,
/// "secp256k1_context") that a constructed context can safely be used from
/// multiple threads simultaneously; only calls taking a *non-const* context
/// pointer need exclusive access — `secp256k1_context_randomize` and
/// `secp256k1_context_destroy`. We randomise exactly once inside `init`, before
/// the instance is published to any other thread, and destroy only in `deinit`
/// when no other reference exists. Every other call made through this class
/// (`ec_seckey_verify`, `ec_pubkey_create`, `ecdsa_sign_recoverable`,
/// `ecdsa_recover`, parse/serialise) takes a `const secp256k1_context *`, so
/// concurrent use is sound. The stored pointer itself is immutable (`let`).
final class Secp256k1Context: @unchecked Sendable {
    /// The shared context used by `SigningKey` and `SignedDocument`.
    static let shared = Secp256k1Context()

    private let context: OpaquePointer

    private init() {
        guard let context = secp256k1_context_create(UInt32(SECP256K1_CONTEXT_NONE)) else {
            fatalError("secp256k1_context_create failed")
        }
        // Randomise for side-channel protection of signing / key generation.
        var generator = SystemRandomNumberGenerator()
        var seed = [UInt8](repeating: 0, count: 32)
        for index in seed.indices { seed[index] = generator.next() }
        let randomized = secp256k1_context_randomize(context, seed)
        precondition(randomized == 1, "secp256k1_context_randomize failed")
        self.context = context
    }

    deinit {
        secp256k1_context_destroy(context)
    }

    /// Whether `secretKey` (32 bytes) is a valid secp256k1 scalar (non-zero, below n).
    func isValidSecretKey(_ secretKey: [UInt8]) -> Bool {
        guard secretKey.count == 32 else { return false }
        return secp256k1_ec_seckey_verify(context, secretKey) == 1
    }

    /// The 33-byte compressed public key for a valid 32-byte secret key.
    func compressedPublicKey(secretKey: [UInt8]) -> [UInt8]? {
        guard secretKey.count == 32 else { return nil }
        var publicKey = secp256k1_pubkey()
        guard secp256k1_ec_pubkey_create(context, &publicKey, secretKey) == 1 else { return nil }
        return serializeCompressed(&publicKey)
    }

    /// Signs a 32-byte digest (RFC 6979 nonce, low-s). Returns r‖s (64 bytes) and the recovery id.
    func signRecoverable(digest: [UInt8], secretKey: [UInt8]) -> (compact: [UInt8], recoveryID: Int32)? {
        guard digest.count == 32, secretKey.count == 32 else { return nil }
        var signature = secp256k1_ecdsa_recoverable_signature()
        guard secp256k1_ecdsa_sign_recoverable(context, &signature, digest, secretKey, nil, nil) == 1 else {
            return nil
        }
        var compact = [UInt8](repeating: 0, count: 64)
        var recoveryID: Int32 = -1
        guard secp256k1_ecdsa_recoverable_signature_serialize_compact(
            context, &compact, &recoveryID, &signature
        ) == 1 else {
            return nil
        }
        return (compact, recoveryID)
    }

    enum RecoveryResult: Equatable {
        /// r or s is not below the group order.
        case unparsable
        /// The signature does not recover to any public key.
        case failed
        /// The 33-byte compressed public key.
        case recovered([UInt8])
    }

    /// Recovers the signer's compressed public key from r‖s (64 bytes), a recovery id 0...3 and a 32-byte digest.
    func recoverCompressedPublicKey(compact: [UInt8], recoveryID: Int32, digest: [UInt8]) -> RecoveryResult {
        guard compact.count == 64, digest.count == 32, (0...3).contains(recoveryID) else { return .unparsable }
        var signature = secp256k1_ecdsa_recoverable_signature()
        guard secp256k1_ecdsa_recoverable_signature_parse_compact(
            context, &signature, compact, recoveryID
        ) == 1 else {
            return .unparsable
        }
        var publicKey = secp256k1_pubkey()
        guard secp256k1_ecdsa_recover(context, &publicKey, &signature, digest) == 1 else {
            return .failed
        }
        guard let compressed = serializeCompressed(&publicKey) else { return .failed }
        return .recovered(compressed)
    }

    private func serializeCompressed(_ publicKey: inout secp256k1_pubkey) -> [UInt8]? {
        var output = [UInt8](repeating: 0, count: 33)
        var length = 33
        guard secp256k1_ec_pubkey_serialize(
            context, &output, &length, &publicKey, UInt32(SECP256K1_EC_COMPRESSED)
        ) == 1, length == 33 else {
            return nil
        }
        return output
    }
}
