/// BIP-173 bech32 (the original constant 1, **not** BIP-350 bech32m), with the
/// usual 8-bit ↔ 5-bit regrouping so callers deal in bytes.
public enum Bech32 {
    /// BIP-173's maximum total length.
    public static let maximumLength = 90

    private static let charset = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)

    private static let reverseCharset: [Int8] = {
        var table = [Int8](repeating: -1, count: 128)
        for (value, character) in charset.enumerated() {
            table[Int(character)] = Int8(value)
        }
        return table
    }()

    /// Encodes `data` (8-bit bytes) under the human-readable part `hrp`.
    ///
    /// The hrp is lower-cased; the result is all lower case. The caller is
    /// responsible for keeping `hrp` in US-ASCII 33...126 and the total within
    /// 90 characters if the string must be decodable by strict BIP-173 decoders
    /// (a CCID — 3-char hrp + 20 bytes — is 42 characters).
    public static func encode(hrp: String, data: some Collection<UInt8>) -> String {
        let hrpBytes = Array(hrp.lowercased().utf8)
        let words = convertBits(Array(data), from: 8, to: 5, pad: true) ?? []
        let checksum = createChecksum(hrp: hrpBytes, words: words)
        var output = hrpBytes
        output.append(UInt8(ascii: "1"))
        for word in words + checksum {
            output.append(charset[Int(word)])
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes a bech32 string into its (lower-cased) hrp and its data as 8-bit bytes.
    ///
    /// Refuses strings over 90 characters, mixed case, characters outside
    /// US-ASCII 33...126, a missing/misplaced separator, bad data characters,
    /// a bad checksum and data whose 5-bit groups do not regroup into whole bytes.
    public static func decode(_ string: String) throws(Bech32Error) -> (hrp: String, data: [UInt8]) {
        let (hrp, words) = try decodeWords(string)
        guard let data = convertBits(words, from: 5, to: 8, pad: false) else {
            throw .invalidPadding
        }
        return (hrp, data)
    }

    /// Decodes a bech32 string into its (lower-cased) hrp and its raw 5-bit words
    /// (checksum removed).
    public static func decodeWords(_ string: String) throws(Bech32Error) -> (hrp: String, words: [UInt8]) {
        let bytes = Array(string.utf8)
        guard bytes.count <= maximumLength else { throw .tooLong(bytes.count) }

        var hasLower = false
        var hasUpper = false
        for (position, byte) in bytes.enumerated() {
            guard byte >= 33, byte <= 126 else { throw .invalidCharacter(position: position) }
            if byte >= UInt8(ascii: "a"), byte <= UInt8(ascii: "z") { hasLower = true }
            if byte >= UInt8(ascii: "A"), byte <= UInt8(ascii: "Z") { hasUpper = true }
        }
        guard !(hasLower && hasUpper) else { throw .mixedCase }

        let lowered = bytes.map { byte -> UInt8 in
            (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) ? byte + 32 : byte
        }
        guard let separator = lowered.lastIndex(of: UInt8(ascii: "1")),
              separator >= 1,
              separator + 7 <= lowered.count
        else {
            throw .invalidSeparatorPosition
        }

        let hrp = Array(lowered[..<separator])
        var words = [UInt8]()
        words.reserveCapacity(lowered.count - separator - 1)
        for byte in lowered[(separator + 1)...] {
            let value = reverseCharset[Int(byte)]
            guard value >= 0 else {
                throw .invalidDataCharacter(Character(Unicode.Scalar(byte)))
            }
            words.append(UInt8(value))
        }

        guard polymod(hrpExpand(hrp) + words) == 1 else { throw .invalidChecksum }
        words.removeLast(6)
        return (String(decoding: hrp, as: UTF8.self), words)
    }

    /// Regroups bits, e.g. 8 → 5 for encoding (with `pad`) and 5 → 8 for decoding
    /// (without `pad`, refusing more than `from - 1` leftover bits or non-zero ones).
    public static func convertBits(_ data: [UInt8], from: Int, to: Int, pad: Bool) -> [UInt8]? {
        var accumulator = 0
        var bits = 0
        let maxValue = (1 << to) - 1
        var output = [UInt8]()
        output.reserveCapacity(data.count * from / to + 1)
        for value in data {
            guard Int(value) >> from == 0 else { return nil }
            accumulator = (accumulator << from) | Int(value)
            bits += from
            while bits >= to {
                bits -= to
                output.append(UInt8((accumulator >> bits) & maxValue))
            }
            accumulator &= (1 << bits) - 1
        }
        if pad {
            if bits > 0 {
                output.append(UInt8((accumulator << (to - bits)) & maxValue))
            }
        } else if bits >= from || ((accumulator << (to - bits)) & maxValue) != 0 {
            return nil
        }
        return output
    }

    private static func polymod(_ values: [UInt8]) -> UInt32 {
        let generator: [UInt32] = [0x3B6A_57B2, 0x2650_8E6D, 0x1EA1_19FA, 0x3D42_33DD, 0x2A14_62B3]
        var checksum: UInt32 = 1
        for value in values {
            let top = checksum >> 25
            checksum = ((checksum & 0x1FF_FFFF) << 5) ^ UInt32(value)
            for index in 0..<5 where (top >> UInt32(index)) & 1 == 1 {
                checksum ^= generator[index]
            }
        }
        return checksum
    }

    private static func hrpExpand(_ hrp: [UInt8]) -> [UInt8] {
        hrp.map { $0 >> 5 } + [0] + hrp.map { $0 & 31 }
    }

    private static func createChecksum(hrp: [UInt8], words: [UInt8]) -> [UInt8] {
        let value = polymod(hrpExpand(hrp) + words + [0, 0, 0, 0, 0, 0]) ^ 1
        return (0..<6).map { UInt8((value >> UInt32(5 * (5 - $0))) & 31) }
    }
}
