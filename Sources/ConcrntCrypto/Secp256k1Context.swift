import CLibCrypto

/// secp256k1 on OpenSSL 3's libcrypto: key derivation, recoverable signatures (RFC 6979 nonce,
/// low-s) and public-key recovery as libsecp256k1's recovery module and Ethereum define them.
///
/// Why this is `@unchecked Sendable`: the group and the numbers below are built in `init`,
/// before the instance is published, and afterwards only ever passed to OpenSSL as `const`
/// (`const EC_GROUP *`, `const BIGNUM *`), which openssl-threads(7) allows from any number of
/// threads at once. Everything an operation writes (`BN_CTX`, points, numbers, the `EC_KEY`)
/// is created by that operation and freed before it returns.
final class Secp256k1Context: @unchecked Sendable {
    /// The shared context used by `SigningKey` and `SignedDocument`.
    static let shared = Secp256k1Context()

    private let group: OpaquePointer
    /// n, the group order (owned by `group`).
    private let order: OpaquePointer
    /// p, the field prime (owned by `group`): an x at or above it names no point.
    private let fieldPrime: OpaquePointer
    /// n − 2: k⁻¹ = k^(n−2) mod n, a constant-time inverse for the secret nonce.
    private let orderMinusTwo: BigNumber
    /// ⌊n / 2⌋: a signature's s above it is replaced by n − s (low-s, as libsecp256k1 signs).
    private let halfOrder: BigNumber

    private init() {
        guard let group = EC_GROUP_new_by_curve_name(NID_secp256k1),
              let order = EC_GROUP_get0_order(group),
              let fieldPrime = EC_GROUP_get0_field(group),
              let orderMinusTwo = BigNumber(copying: order),
              BN_sub_word(orderMinusTwo.pointer, 2) == 1,
              let halfOrder = BigNumber(copying: order),
              BN_rshift1(halfOrder.pointer, order) == 1
        else {
            fatalError("OpenSSL's libcrypto has no secp256k1 group")
        }
        self.group = group
        self.order = order
        self.fieldPrime = fieldPrime
        self.orderMinusTwo = orderMinusTwo
        self.halfOrder = halfOrder
    }

    deinit {
        EC_GROUP_free(group)
    }

    /// Whether `secretKey` (32 bytes) is a valid secp256k1 scalar (non-zero, below n).
    func isValidSecretKey(_ secretKey: [UInt8]) -> Bool {
        guard secretKey.count == 32, let scalar = BigNumber(bigEndian: secretKey, secret: true) else { return false }
        return !scalar.isZero && scalar.isLess(than: order)
    }

    /// The 33-byte compressed public key for a valid 32-byte secret key.
    func compressedPublicKey(secretKey: [UInt8]) -> [UInt8]? {
        guard isValidSecretKey(secretKey),
              let scalar = BigNumber(bigEndian: secretKey, secret: true),
              let context = BN_CTX_new()
        else { return nil }
        defer { BN_CTX_free(context) }
        // A generator-only multiplication: OpenSSL's constant-time ladder.
        guard let point = multiplyGenerator(by: scalar, context: context) else { return nil }
        defer { EC_POINT_free(point) }
        return compressed(point, context: context)
    }

    /// Signs a 32-byte digest (RFC 6979 nonce, low-s). Returns r‖s (64 bytes) and the recovery id.
    func signRecoverable(digest: [UInt8], secretKey: [UInt8]) -> (compact: [UInt8], recoveryID: Int32)? {
        guard digest.count == 32, isValidSecretKey(secretKey),
              let secret = BigNumber(bigEndian: secretKey, secret: true),
              let context = BN_CTX_new()
        else { return nil }
        defer { BN_CTX_free(context) }
        guard let reducedDigest = reduced(digest, context: context),
              let key = EC_KEY_new()
        else { return nil }
        defer { EC_KEY_free(key) }
        guard EC_KEY_set_group(key, group) == 1, EC_KEY_set_private_key(key, secret.pointer) == 1 else { return nil }

        var nonces = RFC6979Nonces(secretKey: secretKey, reducedDigest: reducedDigest)
        while true {
            // A candidate outside 1..<n, or one giving r = 0, is skipped as RFC 6979 says
            // (probability about 2⁻¹²⁸ each).
            guard let nonce = BigNumber(bigEndian: nonces.next(), secret: true) else { return nil }
            guard !nonce.isZero, nonce.isLess(than: order) else { continue }
            guard let point = multiplyGenerator(by: nonce, context: context) else { return nil }
            defer { EC_POINT_free(point) }
            guard let x = BigNumber(), let y = BigNumber(), let r = BigNumber(),
                  EC_POINT_get_affine_coordinates(group, point, x.pointer, y.pointer, context) == 1,
                  BN_nnmod(r.pointer, x.pointer, order, context) == 1
            else { return nil }
            guard !r.isZero else { continue }
            guard let inverse = BigNumber(secret: true),
                  BN_mod_exp_mont_consttime(inverse.pointer, nonce.pointer, orderMinusTwo.pointer, order, context, nil) == 1
            else { return nil }
            // OpenSSL computes s = k⁻¹(e + r·d) with its blinded, fixed-top arithmetic.
            guard let signature = ECDSA_do_sign_ex(digest, 32, inverse.pointer, r.pointer, key) else {
                ERR_clear_error()
                return nil
            }
            defer { ECDSA_SIG_free(signature) }
            guard let signatureS = ECDSA_SIG_get0_s(signature), let s = BigNumber(copying: signatureS) else {
                return nil
            }
            // The recovery id says which of the points with x ≡ r (mod n) is R: bit 0 is R.y's
            // parity, bit 1 that R.x is r + n. Negating s to n − s signs with −R, flipping bit 0.
            var recoveryID: Int32 = (y.isOdd ? 1 : 0) | (x.isLess(than: order) ? 0 : 2)
            if BN_cmp(s.pointer, halfOrder.pointer) > 0 {
                guard BN_sub(s.pointer, order, s.pointer) == 1 else { return nil }
                recoveryID ^= 1
            }
            guard let rBytes = r.bigEndianBytes(count: 32), let sBytes = s.bigEndianBytes(count: 32) else { return nil }
            return (rBytes + sBytes, recoveryID)
        }
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
    ///
    /// Q = r⁻¹(s·R − e·G), where R is the curve point whose x is r (+ n if bit 1 of the
    /// recovery id is set) and whose y has the parity of bit 0. All inputs are public, so the
    /// variable-time multi-scalar multiplication is fine here.
    func recoverCompressedPublicKey(compact: [UInt8], recoveryID: Int32, digest: [UInt8]) -> RecoveryResult {
        guard compact.count == 64, digest.count == 32, (0...3).contains(recoveryID),
              let r = BigNumber(bigEndian: Array(compact[0..<32])),
              let s = BigNumber(bigEndian: Array(compact[32..<64]))
        else { return .unparsable }
        guard r.isLess(than: order), s.isLess(than: order) else { return .unparsable }
        guard !r.isZero, !s.isZero else { return .failed }
        guard let context = BN_CTX_new() else { return .failed }
        defer { BN_CTX_free(context) }

        guard let x = BigNumber(copying: r.pointer) else { return .failed }
        if recoveryID & 2 != 0 {
            guard BN_add(x.pointer, x.pointer, order) == 1 else { return .failed }
        }
        // OpenSSL would reduce an x ≥ p modulo p and decompress some other point.
        guard x.isLess(than: fieldPrime) else { return .failed }
        guard let point = EC_POINT_new(group) else { return .failed }
        defer { EC_POINT_free(point) }
        guard EC_POINT_set_compressed_coordinates(group, point, x.pointer, recoveryID & 1, context) == 1 else {
            // No point has this x: not a signature by anyone.
            ERR_clear_error()
            return .failed
        }

        // u1 = −e·r⁻¹ and u2 = s·r⁻¹ (mod n); Q = u1·G + u2·R.
        guard let e = BigNumber(bigEndian: digest),
              BN_nnmod(e.pointer, e.pointer, order, context) == 1,
              let rInverse = BigNumber(),
              BN_mod_inverse(rInverse.pointer, r.pointer, order, context) != nil,
              let u1 = BigNumber(), let u2 = BigNumber(),
              BN_mod_sub(u1.pointer, order, e.pointer, order, context) == 1,
              BN_mod_mul(u1.pointer, u1.pointer, rInverse.pointer, order, context) == 1,
              BN_mod_mul(u2.pointer, s.pointer, rInverse.pointer, order, context) == 1,
              let publicKey = EC_POINT_new(group)
        else {
            ERR_clear_error()
            return .failed
        }
        defer { EC_POINT_free(publicKey) }
        guard EC_POINT_mul(group, publicKey, u1.pointer, point, u2.pointer, context) == 1,
              EC_POINT_is_at_infinity(group, publicKey) == 0,
              let compressed = compressed(publicKey, context: context)
        else {
            ERR_clear_error()
            return .failed
        }
        return .recovered(compressed)
    }

    /// scalar·G, by OpenSSL's constant-time Montgomery ladder (the path it takes when only
    /// the generator is multiplied); the caller frees the point.
    private func multiplyGenerator(by scalar: BigNumber, context: OpaquePointer) -> OpaquePointer? {
        guard let point = EC_POINT_new(group) else { return nil }
        guard EC_POINT_mul(group, point, scalar.pointer, nil, nil, context) == 1 else {
            EC_POINT_free(point)
            ERR_clear_error()
            return nil
        }
        return point
    }

    /// The 32-byte digest reduced modulo n (RFC 6979's bits2octets).
    private func reduced(_ digest: [UInt8], context: OpaquePointer) -> [UInt8]? {
        guard let value = BigNumber(bigEndian: digest),
              BN_nnmod(value.pointer, value.pointer, order, context) == 1
        else { return nil }
        return value.bigEndianBytes(count: 32)
    }

    private func compressed(_ point: OpaquePointer, context: OpaquePointer) -> [UInt8]? {
        var output = [UInt8](repeating: 0, count: 33)
        let length = EC_POINT_point2oct(group, point, POINT_CONVERSION_COMPRESSED, &output, 33, context)
        return length == 33 ? output : nil
    }
}
