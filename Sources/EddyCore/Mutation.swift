/// A write to the store. Preconditions are evaluated inside the same transaction as the
/// write, so two writers racing on one `If-Match` cannot both succeed.
public struct Mutation: Sendable {
    public enum Operation: Sendable {
        /// Create or replace the object with this text.
        case put(JSONDocument)
        /// Apply an RFC 7396 merge patch to the existing object.
        case patch(JSONValue)
        /// Remove the object, leaving a tombstone event.
        case delete
        /// Create a child of the collection `path` with a server-made id.
        case append(JSONDocument)

        /// Create or replace the object with a value the server made.
        public static func put(_ value: JSONValue) -> Operation { .put(JSONDocument(value)) }

        /// Create a child with a value the server made.
        public static func append(_ value: JSONValue) -> Operation { .append(JSONDocument(value)) }
    }

    public let path: ResourcePath
    public let operation: Operation
    /// `If-Match`: the write happens only if the current ETag matches (or, for `*`, it exists).
    public let ifMatch: ETagCondition?
    /// `If-None-Match`: the write happens only if no current ETag matches (`*`: only if absent).
    public let ifNoneMatch: ETagCondition?
    /// When the resource is created: its place on timelines (milliseconds since 1970). Nil
    /// means the commit time; a signed document brings its own.
    public let createdAt: Int64?
    /// For a deletion: what the log keeps of it beside the path (`ChangeEvent.tombstone`), such
    /// as the signed document that asked for it. Ignored by every other operation.
    public let tombstone: JSONDocument?

    public init(
        path: ResourcePath, operation: Operation, ifMatch: ETagCondition? = nil, ifNoneMatch: ETagCondition? = nil, createdAt: Int64? = nil,
        tombstone: JSONDocument? = nil
    ) {
        self.path = path
        self.operation = operation
        self.ifMatch = ifMatch
        self.ifNoneMatch = ifNoneMatch
        self.createdAt = createdAt
        self.tombstone = tombstone
    }

    /// Decides, given the current state of the target, whether the preconditions hold.
    public func preconditionsHold(currentETag: ETag?) -> Bool {
        if let ifMatch, !ifMatch.matches(currentETag) { return false }
        if let ifNoneMatch, ifNoneMatch.matches(currentETag) { return false }
        return true
    }
}

public enum CommitOutcome: Sendable {
    /// The change committed; `resource` is its state afterwards (nil value for a deletion).
    case committed(ChangeEvent, created: Bool)
    case preconditionFailed(current: ETag?)
    case notFound
    /// The result would not be a JSON object (a merge patch that replaces the whole document).
    case notAnObject
}

/// The answer to an all-or-nothing batch of mutations.
public enum BatchOutcome: Sendable {
    /// Every mutation committed; their outcomes, in the batch's order.
    case committed([CommitOutcome])
    /// The mutation at `index` would have been answered with `outcome`; nothing was written.
    case refused(index: Int, outcome: CommitOutcome)
}

/// Thrown inside a store's transaction to roll an all-or-nothing batch back.
public struct BatchRefusal: Error, Sendable {
    public let index: Int
    public let outcome: CommitOutcome

    public init(index: Int, outcome: CommitOutcome) {
        self.index = index
        self.outcome = outcome
    }
}

/// An object as the store holds it.
public struct StoredResource: Sendable, Hashable {
    public let path: ResourcePath
    public let value: String
    public let etag: ETag
    public let version: SequenceNumber
    public let createdSequence: SequenceNumber
    public let updatedAt: Int64
    /// The resource's place on timelines, in milliseconds since 1970.
    public let createdAt: Int64

    public init(
        path: ResourcePath, value: String, etag: ETag, version: SequenceNumber, createdSequence: SequenceNumber, updatedAt: Int64,
        createdAt: Int64? = nil
    ) {
        self.path = path
        self.value = value
        self.etag = etag
        self.version = version
        self.createdSequence = createdSequence
        self.updatedAt = updatedAt
        self.createdAt = createdAt ?? updatedAt
    }

    /// The item as a collection lists it: the object with its `id` member set.
    public var itemText: String {
        Self.item(id: path.name, value: value)
    }

    /// Splices `"id"` into the object's JSON text without re-parsing it, unless the object may
    /// have an `id` member of its own (spelled plainly or with `\u` escapes), which the
    /// collection's id replaces in its place.
    public static func item(id: String, value: String) -> String {
        if value.utf8.containsBytes(of: "\"id\"") || value.utf8.containsBytes(of: "\\u"),
            case .object(var members)? = try? JSONValue(parsing: value), members["id"] != nil
        {
            members["id"] = .string(id)
            return JSONValue.object(members).text
        }
        let body = value.utf8.dropFirst()  // drop "{"
        let isEmpty = body.first(where: { $0 != UInt8(ascii: " ") }) == UInt8(ascii: "}")
        var out = "{\"id\":" + JSONValue.quoted(id)
        if !isEmpty { out += "," }
        out += String(decoding: body, as: UTF8.self)
        return out
    }
}

/// Server-made ids: the creating event's sequence number in fixed-width base 36, so ids sort
/// as strings in creation order and never repeat within one log.
public enum ResourceID {
    public static let width = 13

    public static func make(from sequence: SequenceNumber) -> String {
        let digits = String(sequence, radix: 36)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

extension String.UTF8View {
    /// A byte search: `String.contains` compares characters, which a combining mark after the
    /// match would hide it from.
    func containsBytes(of needle: StaticString) -> Bool {
        needle.withUTF8Buffer { needle in
            guard let first = needle.first, count >= needle.count else { return false }
            var start = startIndex
            while let found = self[start...].firstIndex(of: first) {
                if self[found...].starts(with: needle) { return true }
                start = index(after: found)
            }
            return false
        }
    }
}
