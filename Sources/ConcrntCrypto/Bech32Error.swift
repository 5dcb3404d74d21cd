/// Reasons a string is not valid BIP-173 bech32 (or its data does not convert to bytes).
public enum Bech32Error: Error, Equatable, Sendable, CustomStringConvertible {
    /// Longer than the 90 characters BIP-173 allows.
    case tooLong(Int)
    /// Contains both upper- and lower-case letters.
    case mixedCase
    /// A character outside US-ASCII 33...126 (position is a UTF-8 byte offset).
    case invalidCharacter(position: Int)
    /// No `1` separator, an empty human-readable part, or fewer than 6 checksum characters.
    case invalidSeparatorPosition
    /// A data character not in the bech32 alphabet.
    case invalidDataCharacter(Character)
    /// The checksum does not verify (for bech32; bech32m strings fail here too).
    case invalidChecksum
    /// The 5-bit data does not convert to whole bytes (too many or non-zero padding bits).
    case invalidPadding

    public var description: String {
        switch self {
        case .tooLong(let length): "bech32 string is \(length) characters long (max 90)"
        case .mixedCase: "bech32 string mixes upper and lower case"
        case .invalidCharacter(let position): "bech32 string has an invalid character at \(position)"
        case .invalidSeparatorPosition: "bech32 string has no valid '1' separator"
        case .invalidDataCharacter(let character): "bech32 data has invalid character '\(character)'"
        case .invalidChecksum: "bech32 checksum is invalid"
        case .invalidPadding: "bech32 data has invalid padding"
        }
    }
}
