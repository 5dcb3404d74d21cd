import EddyCore

/// What a `LiveResource` reports, in the order it happened. The kinds mirror the events of the
/// LiveResource JavaScript client (`value`, `removed`, `child-added`, `child-changed`,
/// `child-removed`), plus `resynced`.
public struct LiveResourceEvent: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// An object's value, first as fetched and then after each change. For a collection it is
        /// the listing the client started from (a JSON array of items with their `id`s).
        case value(JSONValue)
        /// The object was deleted.
        case removed
        /// A collection item that the client had not seen before.
        case childAdded(JSONValue)
        /// A collection item that the client had seen, in its new state.
        case childChanged(JSONValue)
        /// The id of a collection item that was deleted.
        case childRemoved(String)
        /// The server no longer held the changes since the client's last position, so the client
        /// started over: the next event is a fresh `value`. Anything between is lost for good.
        case resynced
    }

    public let kind: Kind
    /// The change-log position this event brought the client to (an ETag's opaque part or a
    /// collection checkpoint), when the server said; what a resumed watch would continue from.
    public let position: String?

    public init(_ kind: Kind, position: String?) {
        self.kind = kind
        self.position = position
    }
}

/// How a `LiveResource` receives changes.
public enum LiveTransport: String, Sendable, CaseIterable {
    /// Long-polling: `value-wait` (If-None-Match + Wait) or `changes-wait`.
    case poll
    /// Server-sent events: `value-stream` or `changes-stream`, resumed with Last-Event-ID.
    case sse
    /// The `liveresource` multiplex WebSocket (`multiplex-ws`).
    case webSocket = "ws"
}

public enum LiveResourceError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The server refused the resource for good (not found, unauthorised, …).
    case status(code: Int, body: String)
    /// The resource does not offer the transport that was asked for.
    case transportNotOffered(LiveTransport)

    public var description: String {
        switch self {
        case .status(let code, let body): "the server answered \(code)" + (body.isEmpty ? "" : ": \(body)")
        case .transportNotOffered(let transport): "the resource offers no \(transport.rawValue) link"
        }
    }
}
