import ConcrntCrypto
import EddyCore
import Foundation

/// `cc://<CCID>/<key>` names a resource of an entity. Concrnt resources live in the same
/// tree as every other resource, under `/cc/<CCID>/<key>` (a key's `/` separates segments),
/// so LiveResource and Solid subscribers see Concrnt writes and the other way round.
///
/// `cc://<CCID>@<host>/<key>` adds a hint of the entity's home server. The hint is not part of
/// the name: two URIs that differ only by it are the same resource.
struct ConcrntURI: Hashable, Sendable, CustomStringConvertible {
    static let root = "cc"
    let ccid: String
    let key: String
    /// The home server the URI hinted at (`host[:port]`), if any.
    let homeHint: String?

    init(ccid: String, key: String, homeHint: String? = nil) throws {
        guard CCID.isValid(ccid) else { throw Problem.badRequest("invalid-ccid", "\(ccid) is not a valid CCID") }
        guard (1...1024).contains(key.utf8.count) else {
            throw Problem.badRequest("invalid-key", "a key must be 1 to 1024 bytes")
        }
        if let homeHint {
            guard !homeHint.isEmpty, homeHint.utf8.allSatisfy(Self.isHostByte) else {
                throw Problem.badRequest("invalid-uri", "the home hint '\(homeHint)' is not a host[:port]")
            }
        }
        self.ccid = ccid
        self.key = key
        self.homeHint = homeHint
        _ = try path
    }

    init(parsing text: String) throws {
        guard text.hasPrefix("cc://") else { throw Problem.badRequest("invalid-uri", "\(text) is not a cc:// URI") }
        let rest = text.dropFirst(5)
        guard let slash = rest.firstIndex(of: "/") else { throw Problem.badRequest("invalid-uri", "\(text) names no key") }
        let authority = rest[..<slash]
        let key = String(rest[rest.index(after: slash)...])
        if let at = authority.firstIndex(of: "@") {
            try self.init(ccid: String(authority[..<at]), key: key, homeHint: String(authority[authority.index(after: at)...]))
        } else {
            try self.init(ccid: String(authority), key: key)
        }
    }

    /// Letters, digits and `.-:[]`: a DNS name or an IP literal, with a port.
    private static func isHostByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"): true
        default: false
        }
    }

    /// The same resource, by its bytes; the home hint aside.
    static func == (lhs: ConcrntURI, rhs: ConcrntURI) -> Bool {
        lhs.ccid.hasSameBytes(as: rhs.ccid) && lhs.key.hasSameBytes(as: rhs.key)
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(ByteIdentity(ccid))
        hasher.combine(ByteIdentity(key))
    }

    var description: String { "cc://\(ccid)/\(key)" }

    /// The object holding the signed document.
    var path: ResourcePath {
        get throws {
            do {
                return try ResourcePath(segments: [Self.root, ccid] + key.split(separator: "/", omittingEmptySubsequences: false).map(String.init), isCollection: false)
            } catch {
                throw Problem.badRequest("invalid-key", "the key '\(key)' cannot name a resource: \(error)")
            }
        }
    }

    /// The collection of this resource's members (when it is a collection or timeline).
    var membersPath: ResourcePath {
        get throws {
            let object = try path
            return try ResourcePath(segments: object.segments, isCollection: true)
        }
    }

    /// The cc:// URI of a document resource path, if it is one.
    init?(path: ResourcePath) {
        guard !path.isCollection, path.segments.count >= 3, path.segments[0] == Self.root else { return nil }
        guard let uri = try? ConcrntURI(ccid: path.segments[1], key: path.segments.dropFirst(2).joined(separator: "/")) else { return nil }
        self = uri
    }

    /// The member entry id of `member` inside a collection: its URI in base64url, so a
    /// deletion finds the entry and a removal event can name the document it held.
    static func memberID(_ member: ConcrntURI) -> String {
        Data(member.description.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// The member URI a member entry id names.
    static func member(fromID id: String) -> String? {
        var base64 = id.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).flatMap { String(data: $0, encoding: .utf8) }
    }
}
