import ConcrntCrypto
import Testing

@Suite("CCID / csid")
struct CCIDTests {
    @Test("field-notes vector: private key → compressed key → CCID")
    func documentedVector() throws {
        let key = try SigningKey(hex: Vector.privateKeyHex)
        #expect(Hex.encode(key.compressedPublicKey) == Vector.compressedPublicKeyHex)
        #expect(key.ccid == Vector.ccid)
        #expect(CCID.from(compressedPublicKey: key.compressedPublicKey) == Vector.ccid)
    }

    @Test("CCID encodes RIPEMD-160(SHA-256(compressed key)) under hrp con")
    func payload() throws {
        let publicKey = bytes(hex: Vector.compressedPublicKeyHex)
        #expect(Hex.encode(CCID.addressBytes(compressedPublicKey: publicKey)) == Vector.addressHex)
        let decoded = try Bech32.decode(Vector.ccid)
        #expect(decoded.hrp == "con")
        #expect(Hex.encode(decoded.data) == Vector.addressHex)
    }

    @Test("server id uses hrp ccs over the same 20 bytes")
    func serverID() throws {
        let publicKey = bytes(hex: Vector.compressedPublicKeyHex)
        #expect(CCID.serverID(compressedPublicKey: publicKey) == Vector.csid)
        #expect(Vector.key.csid == Vector.csid)
        let decoded = try Bech32.decode(Vector.csid)
        #expect(decoded.hrp == "ccs")
        #expect(Hex.encode(decoded.data) == Vector.addressHex)
    }

    @Test("isValid checks prefix, checksum, payload length and case")
    func validity() {
        #expect(CCID.isValid(Vector.ccid))
        #expect(!CCID.isValid(Vector.csid))
        #expect(CCID.isValid(Vector.csid, prefix: CCID.serverPrefix))
        #expect(!CCID.isValid(Vector.ccid.uppercased()))
        #expect(!CCID.isValid("con1mu9xruulec4y6hd0d369sdf325l94z4770m33e"))
        #expect(!CCID.isValid(Bech32.encode(hrp: "con", data: [UInt8](repeating: 1, count: 32))))
        #expect(!CCID.isValid(""))
    }
}
