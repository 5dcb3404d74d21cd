import Foundation

/// Text that names something — a path, a subject, a token, a JSON member name — compared,
/// hashed and ordered by its exact UTF-8 bytes.
///
/// Swift's `String` compares by canonical equivalence: "café" composed and decomposed are
/// equal, and so are "K" and the Kelvin sign U+212A. For an identity that would let one
/// name stand for another (a token for `\u{212A}evin` owning `/users/Kevin/`), so every
/// comparison of names goes through this type instead.
public struct ByteIdentity: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let text: String

    public init(_ text: String) {
        self.text = text
    }

    public init(stringLiteral text: String) {
        self.text = text
    }

    public var description: String { text }

    public static func == (lhs: ByteIdentity, rhs: ByteIdentity) -> Bool {
        lhs.text.hasSameBytes(as: rhs.text)
    }

    public func hash(into hasher: inout Hasher) {
        let hashed: Void? = text.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if hashed == nil {
            for byte in text.utf8 { hasher.combine(byte) }
        }
    }

    /// UTF-8 byte order, which is also Unicode scalar order (and the order of SQLite's and
    /// PostgreSQL's `COLLATE "C"` comparisons).
    public static func < (lhs: ByteIdentity, rhs: ByteIdentity) -> Bool {
        lhs.text.utf8.lexicographicallyPrecedes(rhs.text.utf8)
    }

    /// Whether two optional names are the same bytes (both absent counts as the same).
    public static func same(_ lhs: String?, _ rhs: String?) -> Bool {
        switch (lhs, rhs) {
        case (nil, nil): true
        case (let lhs?, let rhs?): lhs.hasSameBytes(as: rhs)
        default: false
        }
    }
}

extension String {
    /// Equality of the UTF-8 bytes, not of the characters (see `ByteIdentity`). Strings that
    /// share their storage answer without reading it.
    public func hasSameBytes(as other: String) -> Bool {
        let count = utf8.count
        guard count == other.utf8.count else { return false }
        guard count > 0 else { return true }
        // `memcmp`, not `elementsEqual`, which steps through the bytes one by one: this runs
        // for every delivery (encoding keys) and for every path compared.
        let compared = utf8.withContiguousStorageIfAvailable { mine in
            other.utf8.withContiguousStorageIfAvailable { theirs in
                guard let mine = mine.baseAddress, let theirs = theirs.baseAddress else { return false }
                return mine == theirs || memcmp(mine, theirs, count) == 0
            }
        }
        if let compared = compared ?? nil { return compared }
        return utf8.elementsEqual(other.utf8)
    }

    /// Whether the UTF-8 bytes start with those of `prefix`. `hasPrefix` compares characters:
    /// it finds "/a/K" below "/a/\u{212A}" and misses "/a/" in "/a/\u{301}x", whose '/' and
    /// combining mark make one character.
    public func hasBytePrefix(_ prefix: String) -> Bool {
        utf8.starts(with: prefix.utf8)
    }
}
