import Synchronization

/// One shared copy of each long encoding key (`HubEvent.encoded(as:)`). The hub's subscribers
/// look an event's encoding up by key, once per subscriber and event. Two strings sharing their
/// storage compare equal without reading it; equal keys built apart (one per subscriber, such as
/// `"lr-ws-frame:" + uri`) are read both, and each subscriber's copy lies in memory no other
/// subscriber touches, so every delivery paid a cache miss for it.
public final class EncodingKeys: Sendable {
    /// Past this many keys, new ones are used as they come: they still match, only more slowly.
    /// Keys are never dropped, so this bounds what clients naming many URLs can make it hold.
    public let limit: Int
    /// By bytes: keys hold client-given URIs (see `ByteIdentity`).
    private let keys = Mutex<Set<ByteIdentity>>([])

    public static let defaultLimit = 10_000

    public init(limit: Int = defaultLimit) {
        self.limit = limit
    }

    /// The copy of `key` every holder of an equal key gets.
    public func shared(_ key: String) -> String {
        // Up to 15 bytes a string is held inline, and compares as two words.
        guard key.utf8.count > 15 else { return key }
        return keys.withLock { keys in
            if let index = keys.firstIndex(of: ByteIdentity(key)) { return keys[index].text }
            if keys.count < limit { keys.insert(ByteIdentity(key)) }
            return key
        }
    }

    public var count: Int { keys.withLock { $0.count } }
}

/// Names one wire format's encoding of an event and fixes its type, so a key cannot be read
/// back as another type than the one it was built as (`HubEvent.encoded(as:)`).
public struct EncodingKey<Encoding: Sendable>: Sendable, ExpressibleByStringLiteral {
    /// Compared by bytes: names hold client-given URIs (see `ByteIdentity`).
    public let name: String

    public init(_ name: String) {
        self.name = name
    }

    public init(stringLiteral name: String) {
        self.name = name
    }
}

extension EncodingKeys {
    /// The key naming its encoding with the copy of the name every holder of an equal one gets.
    public func shared<Encoding>(_ key: EncodingKey<Encoding>) -> EncodingKey<Encoding> {
        EncodingKey(shared(key.name))
    }
}
