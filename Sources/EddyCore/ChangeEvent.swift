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
/// change, nil for a deletion (the tombstone).
public struct ChangeEvent: Sendable, Hashable {
    public let sequence: SequenceNumber
    public let path: ResourcePath
    public let kind: ChangeKind
    public let etag: ETag
    /// Commit time, in milliseconds since 1970.
    public let timestamp: Int64
    public let value: String?

    public init(sequence: SequenceNumber, path: ResourcePath, kind: ChangeKind, etag: ETag, timestamp: Int64, value: String?) {
        self.sequence = sequence
        self.path = path
        self.kind = kind
        self.etag = etag
        self.timestamp = timestamp
        self.value = value
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
