import EddyCore

/// Who may read and write where: rules by path prefix, the longest matching prefix winning,
/// and no match meaning no access.
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
        case subjects(Set<String>)
        case nobody
    }

    public struct Rule: Sendable, Equatable {
        /// Segments of the rule's path; `{sub}` matches any one segment and names the owner.
        public let segments: [String]
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
                if ruleSegment == "{sub}" {
                    owner = segment
                } else if ruleSegment != segment {
                    return (false, nil)
                }
            }
            // A collection rule "/a/" also governs the collection "/a/" itself; an object rule
            // "/a/b" must not match the collection "/a/" (fewer segments, handled above).
            return (true, owner)
        }

        /// More segments win; at equal length a literal segment beats `{sub}`.
        var specificity: (Int, Int) {
            (segments.count, segments.filter { $0 != "{sub}" }.count)
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
            guard case .string(let path)? = entry["path"], path.hasPrefix("/") else {
                throw .invalid("rule \(index): \"path\" must be a string starting with '/'")
            }
            let body = path.dropFirst()
            let segments = body.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            let trimmed = segments.last == "" ? Array(segments.dropLast()) : segments
            if trimmed.contains("") { throw .invalid("rule \(index): path \(path) has an empty segment") }
            let read = try Self.grant(entry["read"], rule: index, action: "read")
            let write = try Self.grant(entry["write"], rule: index, action: "write")
            if (read == .owner || write == .owner) && !trimmed.contains("{sub}") {
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
            var subjects = Set<String>()
            for item in items {
                guard case .string(let subject) = item else {
                    throw .invalid("rule \(rule): \"\(action)\" lists must hold subject strings")
                }
                subjects.insert(subject)
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
        case .owner: return subject != nil && subject == owner
        case .subjects(let subjects): return subject.map(subjects.contains) ?? false
        case .nobody: return false
        }
    }

    /// Whether some rule governs paths strictly below `collection` differently from the rule
    /// at `collection` itself, so a subtree subscription there must check each event.
    public func hasRulesBelow(_ collection: ResourcePath) -> Bool {
        rules.contains { rule in
            guard rule.segments.count > collection.segments.count else { return false }
            return zip(rule.segments, collection.segments).allSatisfy { $0 == "{sub}" || $0 == $1 }
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
