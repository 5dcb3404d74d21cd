/// Finds the top-level members of a JSON object *without* re-serialising anything,
/// so `VerifiedDocument.value` can hand out the exact bytes that were signed.
///
/// It is run only on text that Foundation's JSON parser already accepted, so it
/// is lenient about grammar details but never reads out of bounds; any surprise
/// returns nil.
enum JSONObjectScanner {
    struct Member: Equatable {
        /// The key, with JSON escapes decoded.
        var key: String
        /// Byte offsets of the member's value in the scanned UTF-8.
        var valueRange: Range<Int>
    }

    static func topLevelMembers(of bytes: [UInt8]) -> [Member]? {
        var scanner = Cursor(bytes: bytes)
        scanner.skipWhitespace()
        guard scanner.consume(UInt8(ascii: "{")) else { return nil }
        var members = [Member]()
        scanner.skipWhitespace()
        if scanner.consume(UInt8(ascii: "}")) {
            scanner.skipWhitespace()
            return scanner.atEnd ? members : nil
        }
        while true {
            scanner.skipWhitespace()
            guard let key = scanner.readString() else { return nil }
            scanner.skipWhitespace()
            guard scanner.consume(UInt8(ascii: ":")) else { return nil }
            scanner.skipWhitespace()
            let start = scanner.index
            guard scanner.skipValue() else { return nil }
            members.append(Member(key: key, valueRange: start..<scanner.index))
            scanner.skipWhitespace()
            if scanner.consume(UInt8(ascii: ",")) { continue }
            guard scanner.consume(UInt8(ascii: "}")) else { return nil }
            break
        }
        scanner.skipWhitespace()
        return scanner.atEnd ? members : nil
    }

    /// The first key that appears twice, comparing the bytes of the decoded keys: `String`
    /// equality would take "\u{e9}" and "e\u{301}" for one key and the Kelvin sign for "K".
    static func firstDuplicateKey(in members: [Member]) -> String? {
        var seen = Set<[UInt8]>()
        return members.first { !seen.insert(Array($0.key.utf8)).inserted }?.key
    }

    private struct Cursor {
        let bytes: [UInt8]
        var index = 0

        var atEnd: Bool { index >= bytes.count }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func consume(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        /// Reads a JSON string starting at `"`, decoding escapes.
        mutating func readString() -> String? {
            guard consume(UInt8(ascii: "\"")) else { return nil }
            var output = [UInt8]()
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(decoding: output, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { return nil }
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(escape)
                    case UInt8(ascii: "b"): output.append(0x08)
                    case UInt8(ascii: "f"): output.append(0x0C)
                    case UInt8(ascii: "n"): output.append(0x0A)
                    case UInt8(ascii: "r"): output.append(0x0D)
                    case UInt8(ascii: "t"): output.append(0x09)
                    case UInt8(ascii: "u"):
                        guard let unit = readHex4() else { return nil }
                        var scalar = Unicode.Scalar(unit)
                        if (0xD800...0xDBFF).contains(unit),
                           index + 6 <= bytes.count,
                           bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") {
                            let saved = index
                            index += 2
                            if let low = readHex4(), (0xDC00...0xDFFF).contains(low) {
                                let combined = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                                scalar = Unicode.Scalar(combined)
                            } else {
                                index = saved
                            }
                        }
                        output.append(contentsOf: Array(String(Character(scalar ?? "\u{FFFD}")).utf8))
                    default:
                        return nil
                    }
                default:
                    output.append(byte)
                }
            }
            return nil
        }

        private mutating func readHex4() -> UInt16? {
            guard index + 4 <= bytes.count else { return nil }
            var value: UInt16 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let nibble: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = byte - UInt8(ascii: "A") + 10
                default: return nil
                }
                value = value << 4 | UInt16(nibble)
                index += 1
            }
            return value
        }

        /// Skips one JSON value of any kind; false if none is there.
        mutating func skipValue() -> Bool {
            guard index < bytes.count else { return false }
            switch bytes[index] {
            case UInt8(ascii: "\""):
                return skipString()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var depth = 0
                while index < bytes.count {
                    switch bytes[index] {
                    case UInt8(ascii: "\""):
                        guard skipString() else { return false }
                        continue
                    case UInt8(ascii: "{"), UInt8(ascii: "["):
                        depth += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        depth -= 1
                        if depth == 0 {
                            index += 1
                            return true
                        }
                    default:
                        break
                    }
                    index += 1
                }
                return false
            default:
                // Number, true, false or null: runs until a structural character or whitespace.
                let start = index
                scan: while index < bytes.count {
                    switch bytes[index] {
                    case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D:
                        break scan
                    default:
                        index += 1
                    }
                }
                return index > start
            }
        }

        /// Skips a JSON string starting at `"` without decoding it.
        private mutating func skipString() -> Bool {
            guard consume(UInt8(ascii: "\"")) else { return false }
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\""):
                    index += 1
                    return true
                case UInt8(ascii: "\\"):
                    index += 2
                default:
                    index += 1
                }
            }
            return false
        }
    }
}
