import ConcrntCrypto
import Testing

@Suite("Bech32 (BIP-173)")
struct Bech32Tests {
    static let valid = [
        "A12UEL5L",
        "a12uel5l",
        "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
        "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
        "11" + String(repeating: "q", count: 82) + "c8247j",
        "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
        "?1ezyfcl",
    ]

    @Test("BIP-173 valid strings decode and re-encode to their lower-case form", arguments: valid)
    func validStrings(string: String) throws {
        let decoded = try Bech32.decode(string)
        #expect(Bech32.encode(hrp: decoded.hrp, data: decoded.data) == string.lowercased())
    }

    @Test("decoded contents")
    func contents() throws {
        let upper = try Bech32.decode("A12UEL5L")
        #expect(upper.hrp == "a")
        #expect(upper.data.isEmpty)

        let words = try Bech32.decodeWords("abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw")
        #expect(words.hrp == "abcdef")
        #expect(words.words == (0..<32).map { UInt8($0) })

        let long = try Bech32.decode("an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs")
        #expect(long.hrp == "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio")
        #expect(long.hrp.utf8.count == 83)
    }

    @Test("encode then decode round trips bytes")
    func roundTrip() throws {
        for length in [0, 1, 2, 5, 19, 20, 32, 40] {
            let data = (0..<length).map { UInt8(($0 * 37 + 11) % 256) }
            let encoded = Bech32.encode(hrp: "test", data: data)
            let decoded = try Bech32.decode(encoded)
            #expect(decoded.hrp == "test")
            #expect(decoded.data == data)
        }
    }

    @Test("BIP-173 invalid strings", arguments: [
        ("\u{20}1nwldj5", Bech32Error.invalidCharacter(position: 0)),
        ("\u{7F}1axkwrx", Bech32Error.invalidCharacter(position: 0)),
        ("\u{80}1eym55h", Bech32Error.invalidCharacter(position: 0)),
        ("an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx", Bech32Error.tooLong(91)),
        ("pzry9x0s0muk", Bech32Error.invalidSeparatorPosition),
        ("1pzry9x0s0muk", Bech32Error.invalidSeparatorPosition),
        ("x1b4n0q5v", Bech32Error.invalidDataCharacter("b")),
        ("li1dgmt3", Bech32Error.invalidSeparatorPosition),
        ("de1lg7wt\u{FF}", Bech32Error.invalidCharacter(position: 8)),
        ("A1G7SGD8", Bech32Error.invalidChecksum),
        ("10a06t8", Bech32Error.invalidSeparatorPosition),
        ("1qzzfhee", Bech32Error.invalidSeparatorPosition),
    ])
    func invalidStrings(string: String, expected: Bech32Error) {
        #expect(throws: expected) { try Bech32.decode(string) }
    }

    @Test("mixed case is refused")
    func mixedCase() {
        #expect(throws: Bech32Error.mixedCase) { try Bech32.decode("a12UEL5L") }
        #expect(throws: Bech32Error.mixedCase) { try Bech32.decode("Con1mu9xruulec4y6hd0d369sdf325l94z4770m33d") }
    }

    @Test("bad checksum is refused")
    func badChecksum() {
        #expect(throws: Bech32Error.invalidChecksum) { try Bech32.decode("a12uel5m") }
        #expect(throws: Bech32Error.invalidChecksum) { try Bech32.decode("con1mu9xruulec4y6hd0d369sdf325l94z4770m33e") }
        // A valid BIP-350 bech32m string is not bech32.
        #expect(throws: Bech32Error.invalidChecksum) { try Bech32.decode("a1lqfn3a") }
    }

    @Test("non-zero padding bits are refused when converting to bytes")
    func padding() throws {
        // One 5-bit word "l" (31) does not make a byte: 5 leftover non-zero bits.
        let encoded = "a1l" + checksumFor(hrp: "a", words: [31])
        #expect(throws: Bech32Error.invalidPadding) { try Bech32.decode(encoded) }
        #expect(try Bech32.decodeWords(encoded).words == [31])
    }

    /// The 6 BIP-173 checksum characters for `words`, computed here independently of
    /// the module (its `encode` only takes bytes, so it cannot make this string).
    private func checksumFor(hrp: String, words: [UInt8]) -> String {
        let generator: [UInt32] = [0x3B6A_57B2, 0x2650_8E6D, 0x1EA1_19FA, 0x3D42_33DD, 0x2A14_62B3]
        func polymod(_ values: [UInt8]) -> UInt32 {
            var checksum: UInt32 = 1
            for value in values {
                let top = checksum >> 25
                checksum = ((checksum & 0x1FF_FFFF) << 5) ^ UInt32(value)
                for index in 0..<5 where (top >> UInt32(index)) & 1 == 1 { checksum ^= generator[index] }
            }
            return checksum
        }
        let hrpBytes = Array(hrp.utf8)
        let expanded = hrpBytes.map { $0 >> 5 } + [0] + hrpBytes.map { $0 & 31 }
        let value = polymod(expanded + words + [0, 0, 0, 0, 0, 0]) ^ 1
        let charset = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l")
        return String((0..<6).map { charset[Int((value >> UInt32(5 * (5 - $0))) & 31)] })
    }
}
