import CLibCrypto

/// An OpenSSL `BIGNUM` owned by Swift: freed when released, and wiped first if it held a secret.
///
/// Secret values also carry `BN_FLG_CONSTTIME`, so OpenSSL picks its constant-time paths
/// (exponentiation, ladder scalar multiplication) for them.
final class BigNumber {
    let pointer: OpaquePointer
    private let isSecret: Bool

    /// Zero.
    init?(secret: Bool = false) {
        guard let pointer = BN_new() else { return nil }
        if secret { BN_set_flags(pointer, BN_FLG_CONSTTIME) }
        self.pointer = pointer
        self.isSecret = secret
    }

    /// The unsigned big-endian integer `bytes`.
    convenience init?(bigEndian bytes: [UInt8], secret: Bool = false) {
        self.init(secret: secret)
        guard BN_bin2bn(bytes, Int32(bytes.count), pointer) != nil else { return nil }
    }

    /// A copy of `other`, which stays owned by whoever owns it.
    convenience init?(copying other: OpaquePointer) {
        self.init()
        guard BN_copy(pointer, other) != nil else { return nil }
    }

    deinit {
        if isSecret { BN_clear_free(pointer) } else { BN_free(pointer) }
    }

    var isZero: Bool { BN_is_zero(pointer) == 1 }
    var isOdd: Bool { BN_is_odd(pointer) == 1 }

    /// Whether this is below `bound` (a `BIGNUM *`).
    func isLess(than bound: OpaquePointer) -> Bool { BN_cmp(pointer, bound) < 0 }

    /// The value as exactly `count` big-endian bytes; nil if it does not fit.
    func bigEndianBytes(count: Int) -> [UInt8]? {
        var output = [UInt8](repeating: 0, count: count)
        guard BN_bn2binpad(pointer, &output, Int32(count)) == Int32(count) else { return nil }
        return output
    }
}
