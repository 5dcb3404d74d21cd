/// The name of a resource: `/a/b` is an object, `/a/` is a collection whose children are
/// the objects one segment below it. Paths are kept percent-decoded; `description` is the
/// canonical decoded form used as the store key. Paths are identities: they compare, hash and
/// sort by the bytes of that form (see `ByteIdentity`), so `/u/caf%C3%A9` and `/u/cafe%CC%81`
/// are two resources everywhere, as they are in the store.
public struct ResourcePath: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let segments: [String]
    public let isCollection: Bool
    /// Kept rather than joined on demand: a write asks for it several times (store keys, the
    /// parent, the hub's filters), and equality and hashing use it.
    public let description: String

    /// The longest path Eddy accepts, in bytes of its decoded form.
    public static let maximumLength = 1024

    public init(segments: [String], isCollection: Bool) throws(PathError) {
        for segment in segments {
            try Self.validate(segment: segment)
        }
        if segments.isEmpty && !isCollection {
            throw PathError.invalid("the root is a collection and must end with '/'")
        }
        self.segments = segments
        self.isCollection = isCollection
        var text = "/" + segments.joined(separator: "/")
        if isCollection && !segments.isEmpty { text += "/" }
        self.description = text
        if text.utf8.count > Self.maximumLength {
            throw PathError.invalid("path is longer than \(Self.maximumLength) bytes")
        }
    }

    /// Parses a request path such as `/a/b%20c/`, percent-decoding each segment.
    public init(parsing raw: some StringProtocol) throws(PathError) {
        let (pieces, isCollection) = try Self.pieces(of: Substring(raw))
        var decoded: [String] = []
        decoded.reserveCapacity(pieces.count)
        for piece in pieces {
            guard let segment = String(piece).removingPercentEncoding() else {
                throw PathError.invalid("segment '\(piece)' is not valid percent-encoded UTF-8")
            }
            decoded.append(segment)
        }
        try self.init(segments: decoded, isCollection: isCollection)
    }

    /// Reads back the decoded form `description` produces (as stores and registrations keep it).
    public init(decoded text: String) throws(PathError) {
        let (pieces, isCollection) = try Self.pieces(of: Substring(text))
        try self.init(segments: pieces.map(String.init), isCollection: isCollection)
    }

    /// The text between a path's slashes, split by bytes, not characters: a '/' is a byte
    /// whatever follows it, and a segment may start with a combining mark, which with the '/'
    /// before it makes one `Character`. (The split by `Character` was also most of the cost.)
    private static func pieces(of path: Substring) throws(PathError) -> (pieces: [Substring], isCollection: Bool) {
        let utf8 = path.utf8
        guard utf8.first == UInt8(ascii: "/") else { throw PathError.invalid("path must start with '/'") }
        let isCollection = utf8.last == UInt8(ascii: "/")
        var body = utf8.dropFirst()
        if isCollection, !body.isEmpty { body = body.dropLast() }
        guard !body.isEmpty else { return ([], isCollection) }
        return (body.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map(Substring.init), isCollection)
    }

    public static let root = try! ResourcePath(segments: [], isCollection: true)

    /// The decoded form names a path exactly, since no segment may hold a '/': one string to
    /// compare and hash instead of an array of them.
    public static func == (lhs: ResourcePath, rhs: ResourcePath) -> Bool {
        lhs.description.hasSameBytes(as: rhs.description)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(ByteIdentity(description))
    }

    /// The path as it appears in a URL: each segment percent-encoded.
    public var encoded: String {
        var text = "/" + segments.map { $0.percentEncodedSegment() }.joined(separator: "/")
        if isCollection && !segments.isEmpty { text += "/" }
        return text
    }

    /// The collection that lists this resource as a child; nil for the root.
    public var parent: ResourcePath? {
        guard !segments.isEmpty else { return nil }
        return try! ResourcePath(segments: Array(segments.dropLast()), isCollection: true)
    }

    /// The last segment: the id of an object inside its collection.
    public var name: String { segments.last ?? "" }

    /// The object `name` inside this collection.
    public func child(_ name: String) throws(PathError) -> ResourcePath {
        precondition(isCollection, "only collections have children")
        return try ResourcePath(segments: segments + [name], isCollection: false)
    }

    /// Whether `other` lies at or below this collection.
    public func contains(_ other: ResourcePath) -> Bool {
        guard isCollection else { return self == other }
        return other.description.hasBytePrefix(description)
    }

    /// Collections from the root down to this path's parent, nearest last.
    public var ancestors: [ResourcePath] {
        (0..<segments.count).map { try! ResourcePath(segments: Array(segments.prefix($0)), isCollection: true) }
    }

    public static func < (lhs: ResourcePath, rhs: ResourcePath) -> Bool {
        ByteIdentity(lhs.description) < ByteIdentity(rhs.description)
    }

    static func validate(segment: String) throws(PathError) {
        if segment.isEmpty { throw PathError.invalid("empty path segment") }
        if segment.utf8.first == UInt8(ascii: ".") {
            throw PathError.reserved("segments starting with '.' are reserved for Eddy's own endpoints")
        }
        for scalar in segment.unicodeScalars {
            if scalar == "/" { throw PathError.invalid("a segment may not contain '/'") }
            if scalar.value < 0x20 || scalar.value == 0x7F {
                throw PathError.invalid("control characters are not allowed in paths")
            }
        }
    }
}

public enum PathError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalid(String)
    case reserved(String)

    public var description: String {
        switch self {
        case .invalid(let reason), .reserved(let reason): reason
        }
    }
}

extension String {
    /// Percent-decodes without Foundation, refusing malformed escapes and invalid UTF-8.
    func removingPercentEncoding() -> String? {
        guard self.utf8.contains(UInt8(ascii: "%")) else { return self }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// Encodes everything outside RFC 3986 unreserved characters and a few safe sub-delims.
    public func percentEncodedSegment() -> String {
        var out = ""
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                UInt8(ascii: "."), UInt8(ascii: "~"), UInt8(ascii: "@"), UInt8(ascii: ":"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 0xF, radix: 16, uppercase: true)
            }
        }
        return out
    }
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}

extension ResourcePath {
    /// Exclusive bounds of the stored paths strictly below this collection, for a store's
    /// byte-ordered range query: every such path starts with `…/`, and `0` is the byte after `/`.
    public var subtreeRange: (String, String) {
        let prefix = description
        return (prefix, String(prefix.dropLast()) + "0")
    }
}
