import Foundation

/// A position in the global change log. Every committed mutation gets the next one.
public typealias SequenceNumber = UInt64

public enum ChangeKind: Int, Sendable, Codable, CustomStringConvertible {
    case created = 1
    case updated = 2
    case deleted = 3

    public var description: String {
        switch self {
        case .created: "created"
        case .updated: "updated"
        case .deleted: "deleted"
        }
    }
}

/// One committed change, as the log keeps it. `value` is the resource's JSON text after the
/// change, nil for a deletion; a deletion may instead keep a `tombstone`.
public struct ChangeEvent: Sendable, Hashable {
    public let sequence: SequenceNumber
    public let path: ResourcePath
    public let kind: ChangeKind
    public let etag: ETag
    /// Commit time, in milliseconds since 1970.
    public let timestamp: Int64
    public let value: String?
    /// What a deletion left in the log beside its path, as JSON text: for a Concrnt document the
    /// signed document that deleted it, which realtime relays. Nil for other changes. A store
    /// keeps it in the event's value column, which a deletion otherwise leaves empty.
    public let tombstone: String?

    public init(
        sequence: SequenceNumber, path: ResourcePath, kind: ChangeKind, etag: ETag, timestamp: Int64, value: String?, tombstone: String? = nil
    ) {
        self.sequence = sequence
        self.path = path
        self.kind = kind
        self.etag = etag
        self.timestamp = timestamp
        self.value = value
        self.tombstone = tombstone
    }

    /// An event as a store's log holds it: `logged` is the value column, a deletion's tombstone.
    public init(sequence: SequenceNumber, path: ResourcePath, kind: ChangeKind, etag: ETag, timestamp: Int64, logged: String?) {
        let deleted = kind == .deleted
        self.init(
            sequence: sequence, path: path, kind: kind, etag: etag, timestamp: timestamp, value: deleted ? nil : logged,
            tombstone: deleted ? logged : nil)
    }

    public var date: Date { Date(timeIntervalSince1970: Double(timestamp) / 1000) }

    /// The event as Eddy's own JSON wire form, used by the native event stream.
    public var jsonText: String {
        var out = "{\"seq\":\(sequence),\"path\":"
        out += JSONValue.quoted(path.description)
        out += ",\"kind\":\"\(kind)\",\"etag\":"
        out += JSONValue.quoted(etag.headerValue)
        out += ",\"time\":\(timestamp),\"value\":"
        out += value ?? "null"
        out += "}"
        return out
    }
}
