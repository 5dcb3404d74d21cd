@testable import ConcrntCrypto
import Testing

@Suite("SigningKey")
struct SigningKeyTests {
    @Test("raw representation round trip")
    func rawRoundTrip() throws {
        let key = Vector.key
        #expect(key.hexRepresentation == Vector.privateKeyHex)
        let again = try SigningKey(rawRepresentation: key.rawRepresentation)
        #expect(again.compressedPublicKey == key.compressedPublicKey)
        #expect(try SigningKey(hex: Vector.privateKeyHex.uppercased()).ccid == Vector.ccid)
    }

    @Test("invalid private keys are refused")
    func invalidKeys() {
        #expect(throws: SigningKeyError.invalidLength(31)) {
            try SigningKey(rawRepresentation: [UInt8](repeating: 1, count: 31))
        }
        #expect(throws: SigningKeyError.invalidLength(33)) {
            try SigningKey(rawRepresentation: [UInt8](repeating: 1, count: 33))
        }
        #expect(throws: SigningKeyError.invalidScalar) {
            try SigningKey(rawRepresentation: [UInt8](repeating: 0, count: 32))
        }
        // The group order n itself, and all-ones, are not below n.
        let order = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
        #expect(throws: SigningKeyError.invalidScalar) { try SigningKey(hex: order) }
        #expect(throws: SigningKeyError.invalidScalar) { try SigningKey(hex: String(repeating: "f", count: 64)) }
        // n - 1 is the largest valid key.
        #expect((try? SigningKey(hex: "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140")) != nil)
        #expect(throws: SigningKeyError.invalidHex) { try SigningKey(hex: "zz" + String(repeating: "0", count: 62)) }
        #expect(throws: SigningKeyError.invalidHex) { try SigningKey(hex: "abc") }
    }

    @Test("generated keys are distinct and valid")
    func generate() {
        let keys = (0..<8).map { _ in SigningKey.generate() }
        #expect(Set(keys.map(\.hexRepresentation)).count == keys.count)
        for key in keys {
            #expect(key.compressedPublicKey.count == 33)
            #expect([0x02, 0x03].contains(key.compressedPublicKey[0]))
            #expect(CCID.isValid(key.ccid))
            #expect(key.ccid.hasPrefix("con1"))
            #expect(key.csid.hasPrefix("ccs1"))
        }
    }

    @Test("init(random:) draws from the given generator")
    func seededGenerator() {
        var first = SplitMix64(seed: 42)
        var second = SplitMix64(seed: 42)
        #expect(SigningKey(random: &first).hexRepresentation == SigningKey(random: &second).hexRepresentation)
    }

    @Test("signature is 130 lower-case hex digits, v is 0 or 1, deterministic")
    func signatureShape() {
        let key = Vector.key
        for message in ["", "a", "hello", String(repeating: "x", count: 1000)] {
            let signature = key.sign(message.utf8)
            #expect(signature.utf8.count == 130)
            #expect(signature == signature.lowercased())
            #expect(signature.hasSuffix("00") || signature.hasSuffix("01"))
            #expect(key.sign(message.utf8) == signature)
            #expect(Hex.encode(key.signature(for: message.utf8)) == signature)
        }
    }

    @Test("matches an independent RFC 6979 implementation (Python ecdsa)")
    func independentVector() {
        #expect(Hex.encode(Keccak256.hash(Vector.document.utf8)) == Vector.documentKeccakHex)
        #expect(Vector.key.sign(Vector.document.utf8) == Vector.signature)
    }

    @Test("recovery gives back the signer's key")
    func recovery() {
        let key = SigningKey.generate()
        let message = Array("recover me".utf8)
        let signature = key.signature(for: message)
        let result = Secp256k1Context.shared.recoverCompressedPublicKey(
            compact: Array(signature[0..<64]), recoveryID: Int32(signature[64]), digest: Keccak256.hash(message)
        )
        #expect(result == .recovered(key.compressedPublicKey))
    }
}

/// A tiny deterministic generator for reproducibility tests only (not secure).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
