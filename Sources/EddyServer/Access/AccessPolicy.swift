import EddyCore

/// Who may read and write where: rules by path prefix, the longest matching prefix winning,
/// and no match meaning no access. Segments and subjects match by their exact bytes (see
/// `ByteIdentity`): a token for "\u{212A}evin" (Kelvin sign) is not the owner of `/users/Kevin/`.
///
/// ```json
/// {"rules":[{"path":"/public/","read":"anyone","write":"authenticated"},
///           {"path":"/users/{sub}/","read":"owner","write":"owner"},
///           {"path":"/team/","read":["alice","bob"],"write":["alice"]}]}
/// ```
public struct AccessPolicy: Sendable, Equatable {
    public enum Action: String, Sendable {
        case read, write
    }

    /// Who a rule lets in.
    public enum Grant: Sendable, Equatable {
        case anyone
        case authenticated
        /// The subject named by the rule's `{sub}` segment.
        case owner
        case subjects(Set<ByteIdentity>)
        case nobody
    }

    public struct Rule: Sendable, Equatable {
        /// Segments of the rule's path; `{sub}` matches any one segment and names the owner.
        public let segments: [String]

        static let ownerSegment = "{sub}"

        static func isOwner(_ segment: String) -> Bool {
            segment.hasSameBytes(as: ownerSegment)
        }
        /// A rule path ending in `/` covers everything below; without it, that resource and
        /// everything below it.
        public let read: Grant
        public let write: Grant
        public let source: String

        func matches(_ path: ResourcePath) -> (matched: Bool, owner: String?) {
            guard path.segments.count >= segments.count else {
                return (false, nil)
            }
            var owner: String?
            for (ruleSegment, segment) in zip(segments, path.segments) {
                if Self.isOwner(ruleSegment) {
                    owner = segment
                } else if !ruleSegment.hasSameBytes(as: segment) {
                    return (false, nil)
                }
            }
            // A collection rule "/a/" also governs the collection "/a/" itself; an object rule
            // "/a/b" must not match the collection "/a/" (fewer segments, handled above).
            return (true, owner)
        }

        /// More segments win; at equal length a literal segment beats `{sub}`.
        var specificity: (Int, Int) {
            (segments.count, segments.filter { !Self.isOwner($0) }.count)
        }
    }

    public var rules: [Rule]

    public init(rules: [Rule]) {
        self.rules = rules
    }

    /// A policy that lets everyone do everything: Eddy's default on loopback.
    public static let open = AccessPolicy(rules: [Rule(segments: [], read: .anyone, write: .anyone, source: "/")])

    public init(parsing text: String) throws(PolicyError) {
        let document: JSONValue
        do {
            document = try JSONValue(parsing: text)
        } catch {
            throw .invalid("the policy is not valid JSON: \(error)")
        }
        guard case .array(let entries)? = document["rules"] else {
            throw .invalid("the policy must be an object with a \"rules\" array")
        }
        var rules: [Rule] = []
        for (index, entry) in entries.enumerated() {
            guard case .string(let path)? = entry["path"], path.utf8.first == UInt8(ascii: "/") else {
                throw .invalid("rule \(index): \"path\" must be a string starting with '/'")
            }
            // Split by bytes, as `ResourcePath` does: a '/' followed by a combining mark is one
            // `Character`, which a split by characters would not cut at.
            let segments = path.utf8.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
                .map { String(Substring($0)) }
            let trimmed = segments.last?.isEmpty == true ? Array(segments.dropLast()) : segments
            if trimmed.contains(where: \.isEmpty) { throw .invalid("rule \(index): path \(path) has an empty segment") }
            let read = try Self.grant(entry["read"], rule: index, action: "read")
            let write = try Self.grant(entry["write"], rule: index, action: "write")
            if (read == .owner || write == .owner) && !trimmed.contains(where: Rule.isOwner) {
                throw .invalid("rule \(index): \"owner\" needs a {sub} segment in the path")
            }
            rules.append(Rule(segments: trimmed, read: read, write: write, source: path))
        }
        self.rules = rules
    }

    private static func grant(_ value: JSONValue?, rule: Int, action: String) throws(PolicyError) -> Grant {
        switch value {
        case nil: return .nobody
        case .string("anyone")?: return .anyone
        case .string("authenticated")?: return .authenticated
        case .string("owner")?: return .owner
        case .string("nobody")?: return .nobody
        case .array(let items)?:
            var subjects = Set<ByteIdentity>()
            for item in items {
                guard case .string(let subject) = item else {
                    throw .invalid("rule \(rule): \"\(action)\" lists must hold subject strings")
                }
                subjects.insert(ByteIdentity(subject))
            }
            return .subjects(subjects)
        default:
            throw .invalid("rule \(rule): \"\(action)\" must be anyone, authenticated, owner, nobody or a list of subjects")
        }
    }

    /// The rule that governs `path`: the most specific match.
    func governingRule(for path: ResourcePath) -> (rule: Rule, owner: String?)? {
        var best: (rule: Rule, owner: String?)?
        for rule in rules {
            let match = rule.matches(path)
            guard match.matched else { continue }
            if best == nil || rule.specificity > best!.rule.specificity {
                best = (rule, match.owner)
            }
        }
        return best
    }

    public func allows(_ subject: String?, to action: Action, at path: ResourcePath) -> Bool {
        guard let (rule, owner) = governingRule(for: path) else { return false }
        switch action == .read ? rule.read : rule.write {
        case .anyone: return true
        case .authenticated: return subject != nil
        case .owner: return subject != nil && ByteIdentity.same(subject, owner)
        case .subjects(let subjects): return subject.map { subjects.contains(ByteIdentity($0)) } ?? false
        case .nobody: return false
        }
    }

    /// Whether some rule governs paths strictly below `collection` differently from the rule
    /// at `collection` itself, so a subtree subscription there must check each event.
    public func hasRulesBelow(_ collection: ResourcePath) -> Bool {
        rules.contains { rule in
            guard rule.segments.count > collection.segments.count else { return false }
            return zip(rule.segments, collection.segments).allSatisfy { Rule.isOwner($0) || $0.hasSameBytes(as: $1) }
        }
    }
}

public enum PolicyError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalid(String)
    case unreadable(String)

    public var description: String {
        switch self {
        case .invalid(let why), .unreadable(let why): why
        }
    }
}
