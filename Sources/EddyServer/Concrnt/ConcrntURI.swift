import ConcrntCrypto
import EddyCore
import Foundation

/// `cc://<CCID>/<key>` names a resource of an entity. Concrnt resources live in the same
/// tree as every other resource, under `/cc/<CCID>/<key>` (a key's `/` separates segments),
/// so LiveResource and Solid subscribers see Concrnt writes and the other way round.
struct ConcrntURI: Hashable, Sendable, CustomStringConvertible {
    static let root = "cc"
    let ccid: String
    let key: String

    init(ccid: String, key: String) throws {
        guard CCID.isValid(ccid) else { throw Problem.badRequest("invalid-ccid", "\(ccid) is not a valid CCID") }
        guard (1...1024).contains(key.utf8.count) else {
            throw Problem.badRequest("invalid-key", "a key must be 1 to 1024 bytes")
        }
        self.ccid = ccid
        self.key = key
        _ = try path
    }

    init(parsing text: String) throws {
        guard text.hasPrefix("cc://") else { throw Problem.badRequest("invalid-uri", "\(text) is not a cc:// URI") }
        let rest = text.dropFirst(5)
        guard let slash = rest.firstIndex(of: "/") else { throw Problem.badRequest("invalid-uri", "\(text) names no key") }
        try self.init(ccid: String(rest[..<slash]), key: String(rest[rest.index(after: slash)...]))
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
