/// A strong entity tag. Eddy derives it from the store's epoch and the sequence number of the
/// resource's last change, so it changes on every write and never repeats across a reset log.
public struct ETag: Hashable, Sendable, CustomStringConvertible {
    /// The opaque part, without quotes.
    public let opaque: String

    public init(opaque: String) {
        self.opaque = opaque
    }

    public init(epoch: String, version: SequenceNumber) {
        self.opaque = Checkpoint(epoch: epoch, sequence: version).token
    }

    /// The header form, with quotes.
    public var headerValue: String { "\"" + opaque + "\"" }

    public var description: String { headerValue }
}

/// A parsed `If-Match` / `If-None-Match` header: `*` or a list of entity tags.
public enum ETagCondition: Hashable, Sendable {
    case any
    case tags([ETag])

    /// Parses an `If-None-Match` header, which compares weakly: a weak tag (`W/"x"`) stands
    /// for its opaque part.
    public init?(header: String) {
        self.init(header: header, weakTagsMatch: true)
    }

    /// `If-Match` compares strongly (RFC 9110 §13.1.1): with `weakTagsMatch` false a weak tag
    /// is well-formed but matches nothing.
    public init?(header: String, weakTagsMatch: Bool) {
        let trimmed = header.trimmingWhitespace()
        if trimmed == "*" {
            self = .any
            return
        }
        var tags: [ETag] = []
        var listed = 0
        var rest = Substring(trimmed)
        while !rest.isEmpty {
            rest = rest.drop(while: { $0 == " " || $0 == "," || $0 == "\t" })
            if rest.isEmpty { break }
            let isWeak = rest.hasPrefix("W/")
            if isWeak { rest = rest.dropFirst(2) }
            guard rest.first == "\"" else { return nil }
            rest = rest.dropFirst()
            guard let end = rest.firstIndex(of: "\"") else { return nil }
            listed += 1
            if !isWeak || weakTagsMatch { tags.append(ETag(opaque: String(rest[..<end]))) }
            rest = rest[rest.index(after: end)...]
        }
        guard listed > 0 else { return nil }
        self = .tags(tags)
    }

    public func matches(_ etag: ETag?) -> Bool {
        guard let etag else { return false }
        switch self {
        case .any: return true
        case .tags(let tags): return tags.contains(etag)
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        let last = scalars.lastIndex(where: { $0 != " " && $0 != "\t" })!
        return String(scalars[first...last])
    }
}
