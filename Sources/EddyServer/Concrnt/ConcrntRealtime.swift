import EddyCore
import Foundation
import HTTPTypes
import HummingbirdWebSocket
import Logging
import NIOCore
import Synchronization

/// CIP-7 Realtime. Each socket is answered in the dialect it speaks:
/// - spec: `{"action":"subscribe","resources":[…]}` replaces the subscription list; events
///   `{"event":"created"|"deleted","source":…,"resource":…,"signed_document":{…}}`;
/// - deployed: `{"type":"listen"|"subscribe"|"unlisten","prefixes":[…]}` with a `subscribed`
///   ack, `{"type":"h"}` heartbeats and prefix matching; events
///   `{"type":"created"|"deleted","source":…,"uri":…,"documents":{uri:doc},"timestamp":…}`.
/// Subscribing to a collection delivers its new and removed members.
struct ConcrntRealtime: WebSocketService {
    let hub: Hub
    let access: AccessController
    let maximumSubscriptions: Int
    let maximumMessageBytes: Int
    let bufferMessages: Int

    var subprotocols: [String] { [] }

    func serve(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, identity: Identity, request: HTTPRequest,
        connection: SocketConnection?, logger: Logger
    ) async throws {
        let session = Session(realtime: self, identity: identity, outbox: await SocketOutbox.open(on: connection, capacity: bufferMessages))
        try await session.outbox.serve(
            inbound: inbound, outbound: outbound, maximumMessageBytes: maximumMessageBytes, logger: logger,
            handle: { await session.handle($0) }, ended: { session.close() })
    }

    enum Dialect: Sendable { case spec, deployed }

    final class Session: Sendable {
        let realtime: ConcrntRealtime
        let identity: Identity
        let outbox: SocketOutbox
        /// By subscribed URI or prefix: the hub subscriptions serving it.
        private let subscriptions = Mutex<[ByteIdentity: [HubSubscription]]>([:])

        init(realtime: ConcrntRealtime, identity: Identity, outbox: SocketOutbox) {
            self.realtime = realtime
            self.identity = identity
            self.outbox = outbox
        }

        @discardableResult
        func send(_ message: String) -> Bool { outbox.send(message) }

        func close() {
            for list in subscriptions.withLock({ Array($0.values) }) { for subscription in list { subscription.cancel() } }
            outbox.finish()
        }

        func handle(_ text: String) async {
            guard let message = try? JSONValue(parsing: text), case .object = message else {
                send("{\"type\":\"error\",\"message\":\"not a JSON object\"}")
                return
            }
            if case .string(let action)? = message["action"] {
                guard action == "subscribe" || action == "unsubscribe", case .array(let items)? = message["resources"] else {
                    send("{\"error\":\(JSONValue.quoted("unknown action or missing resources"))}")
                    return
                }
                let uris = items.compactMap { if case .string(let uri) = $0 { uri } else { nil } }
                await replace(action == "subscribe" ? uris : [], dialect: .spec)
                return
            }
            guard case .string(let type)? = message["type"] else {
                send("{\"type\":\"error\",\"message\":\"a message needs type (or action)\"}")
                return
            }
            switch type {
            case "h":
                return
            case "listen", "subscribe", "unlisten":
                guard case .array(let items)? = message["prefixes"] else {
                    send("{\"type\":\"error\",\"message\":\"prefixes is required\"}")
                    return
                }
                let prefixes = items.compactMap { if case .string(let prefix) = $0 { prefix } else { nil } }
                let kept = type == "unlisten" ? [] : prefixes
                let accepted = await replace(kept, dialect: .deployed)
                send("{\"type\":\"subscribed\",\"prefixes\":[\(accepted.map(JSONValue.quoted).joined(separator: ","))]}")
            default:
                send("{\"type\":\"error\",\"message\":\(JSONValue.quoted("unknown type \(type)"))}")
            }
        }

        /// Replaces the whole list. New subscriptions are made before old ones are dropped, and
        /// entries in both are left alone, so an overlapping list loses no event.
        @discardableResult
        private func replace(_ wanted: [String], dialect: Dialect) async -> [String] {
            let limited = Array(wanted.prefix(realtime.maximumSubscriptions))
            let wantedNames = Set(limited.map { ByteIdentity($0) })
            let current = subscriptions.withLock { Set($0.keys) }
            var accepted: [String] = []
            for entry in limited where !current.contains(ByteIdentity(entry)) {
                do {
                    let made = try await subscribe(entry, dialect: dialect)
                    subscriptions.withLock { $0[ByteIdentity(entry)] = made }
                    accepted.append(entry)
                } catch {
                    let reason = (error as? Problem)?.detail ?? "\(error)"
                    send(
                        dialect == .spec
                            ? "{\"error\":\(JSONValue.quoted(reason)),\"resource\":\(JSONValue.quoted(entry))}"
                            : "{\"type\":\"error\",\"message\":\(JSONValue.quoted(reason)),\"prefix\":\(JSONValue.quoted(entry))}")
                }
            }
            accepted += limited.filter { current.contains(ByteIdentity($0)) }
            let dropped = subscriptions.withLock { table in
                let stale = table.keys.filter { !wantedNames.contains($0) }
                return stale.flatMap { table.removeValue(forKey: $0) ?? [] }
            }
            for subscription in dropped { subscription.cancel() }
            return accepted
        }

        private func subscribe(_ entry: String, dialect: Dialect) async throws -> [HubSubscription] {
            let hub = realtime.hub
            switch dialect {
            case .spec:
                let uri = try ConcrntURI(parsing: entry)
                let path = try uri.path
                // Reading the resource is what is asked; its members come as far as each may be read.
                let watcher = try realtime.access.watcher(identity, reading: .value(path))
                let members = try uri.membersPath
                return [
                    try await hub.subscribe(
                        Subscription(.value(path), watcher: watcher), subscriber: Sink(session: self, source: entry, dialect: .spec)),
                    try await hub.subscribe(
                        Subscription(.children(members), watcher: watcher),
                        subscriber: Sink(session: self, source: entry, dialect: .spec, members: true)),
                ]
            case .deployed:
                guard entry.hasPrefix("cc://") else { throw Problem.badRequest("invalid-prefix", "\(entry) is not a cc:// prefix") }
                let rest = entry.dropFirst(5)
                var anchor = try ResourcePath(segments: [ConcrntURI.root], isCollection: true)
                if let slash = rest.firstIndex(of: "/") {
                    anchor = try ResourcePath(segments: [ConcrntURI.root, String(rest[..<slash])], isCollection: true)
                }
                return [
                    try await hub.subscribe(
                        try realtime.access.subscription(identity, to: .subtree(anchor)),
                        subscriber: Sink(session: self, source: entry, dialect: .deployed))
                ]
            }
        }
    }

    /// Turns changes of documents and member entries into realtime events.
    final class Sink: HubSubscriber {
        var kind: HubSubscriberKind { .concrnt }
        let session: Session
        /// The subscribed URI or, in the deployed dialect, prefix, as the client sent it.
        let source: String
        let dialect: Dialect
        /// Whether this sink watches a collection's member entries (not documents).
        let members: Bool
        /// Where ready-made frames go when the socket takes them (`SocketOutbox.FrameSender`).
        private let frames: SocketOutbox.FrameSender?
        /// An event's message is the same for every sink of the same dialect, kind and source:
        /// built once per event for all of them, and framed once. Nil when it tells of nothing.
        private let messageKey: EncodingKey<String?>
        private let frameKey: EncodingKey<ByteBuffer?>

        init(session: Session, source: String, dialect: Dialect, members: Bool = false) {
            self.session = session
            self.source = source
            self.dialect = dialect
            self.members = members
            frames = session.outbox.frameSender
            let keys = session.realtime.hub.encodingKeys
            messageKey = keys.shared(EncodingKey("concrnt-rt:" + Self.keyName(source: source, dialect: dialect, members: members)))
            frameKey = keys.shared(Self.frameKey(source: source, dialect: dialect, members: members))
        }

        static func frameKey(source: String, dialect: Dialect, members: Bool) -> EncodingKey<ByteBuffer?> {
            EncodingKey("concrnt-rt-frame:" + keyName(source: source, dialect: dialect, members: members))
        }

        private static func keyName(source: String, dialect: Dialect, members: Bool) -> String {
            (dialect == .deployed ? "deployed:" : members ? "spec-members:" : "spec:") + source
        }

        func receive(_ event: HubEvent) -> Bool {
            if let frames {
                guard let frame = event.encoded(as: frameKey, { message(for: event).map(WebSocketFrames.text) }) else { return true }
                return frames.send(frame)
            }
            guard let message = event.encoded(as: messageKey, { message(for: event) }) else { return true }
            return session.send(message)
        }

        /// The event's message for this sink's subscribers, or nil when it tells them of nothing.
        private func message(for event: HubEvent) -> String? {
            let change = event.change
            let kind = change.kind == .deleted ? "deleted" : "created"
            var resource: String
            // Read from the stored JSON (a deletion's: its tombstone, which holds the signed
            // delete document) once per event, for every socket and dialect.
            let stored = event.encoded(as: StoredFacts.key) { StoredFacts(change.value ?? change.tombstone) }
            let signed = stored.signed
            if stored.isJSON {
                if stored.isMember {
                    // A member entry: the event names the member document.
                    guard dialect == .spec, let href = stored.href else { return nil }
                    resource = href
                } else if let uri = stored.uri {
                    resource = uri
                } else {
                    return nil
                }
            } else if members {
                // A removed member entry: its id names the document it held.
                guard let member = ConcrntURI.member(fromID: change.path.name), member.hasPrefix("cc://") else { return nil }
                resource = member
            } else if let uri = ConcrntURI(path: change.path), ConcrntURI.member(fromID: change.path.name)?.hasPrefix("cc://") != true {
                resource = uri.description
            } else {
                return nil
            }
            // A deployed sink watches a subtree: only what its prefix names.
            if dialect == .deployed {
                guard resource.hasBytePrefix(source), ConcrntURI(path: change.path) != nil else { return nil }
            }
            switch dialect {
            case .spec:
                return "{\"event\":\"\(kind)\",\"source\":\(JSONValue.quoted(source)),\"resource\":\(JSONValue.quoted(resource))"
                    + (signed.map { ",\"signed_document\":" + $0 } ?? "") + "}"
            case .deployed:
                return "{\"type\":\"\(kind)\",\"source\":\(JSONValue.quoted(source)),\"uri\":\(JSONValue.quoted(resource)),"
                    + "\"documents\":{" + (signed.map { JSONValue.quoted(resource) + ":" + $0 } ?? "") + "},"
                    + "\"timestamp\":\(JSONValue.quoted(Instant.format(change.date)))}"
            }
        }

        func hubDidDrop(reason: HubDropReason) {
            session.send("{\"type\":\"error\",\"message\":\(JSONValue.quoted("subscription to \(source) ended: \(reason)"))}")
        }
    }

    /// What realtime events need from a stored Concrnt value, parsed once per event.
    struct StoredFacts: Sendable {
        static let key = EncodingKey<StoredFacts>("concrnt-stored-facts")

        let isJSON: Bool
        let isMember: Bool
        let signed: String?
        let href: String?
        let uri: String?

        init(_ value: String?) {
            guard let value, let json = try? JSONValue(parsing: value) else {
                (isJSON, isMember, signed, href, uri) = (false, false, nil, nil, nil)
                return
            }
            func string(_ key: String) -> String? {
                if case .string(let text)? = json[key] { return text }
                return nil
            }
            isJSON = true
            isMember = json["member"] == .bool(true)
            signed = string("signedDocument")
            href = string("href")
            uri = string("uri")
        }
    }
}
