import EddyCore
import HTTPTypes
import HummingbirdWebSocket
import Logging
import NIOCore
import Synchronization

/// `multiplex-ws`: one WebSocket, many subscriptions. Clients send
/// `{"id":…,"type":"subscribe"|"unsubscribe","mode":"value"|"changes","uri":…}` and get
/// `subscribed`/`unsubscribed` acks with the same id (string or number), then `event` messages.
/// Anything malformed is answered with an `error` message; the socket stays open. A subscribe
/// may carry `"after":<checkpoint or ETag>` (an Eddy extension) to first replay the changes
/// since; a position the log no longer holds is a 404 error, so the client starts over.
struct MultiplexSocket: WebSocketService {
    let hub: Hub
    let store: any ResourceStore
    let access: AccessController
    let maximumSubscriptions: Int
    let maximumMessageBytes: Int
    let bufferMessages: Int

    var subprotocols: [String] { ["liveresource"] }

    func serve(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, identity: Identity, request: HTTPRequest,
        connection: SocketConnection?, logger: Logger
    ) async throws {
        let base = (request.scheme == "https" ? "https://" : "http://") + (request.authority ?? "localhost")
        let outbox = await SocketOutbox.open(on: connection, capacity: bufferMessages)
        let session = Session(socket: self, identity: identity, base: base, outbox: outbox)
        try await session.outbox.serve(
            inbound: inbound, outbound: outbound, maximumMessageBytes: maximumMessageBytes, logger: logger,
            handle: { await session.handle($0) },
            nonText: { session.send(Self.error(id: nil, code: 400, "messages must be JSON text")) },
            ended: { session.close() })
    }

    /// How the socket says "start over" for one subscription: a 404 `error` with its id.
    static func startOver(id: String?, _ startOver: StartOver) -> String {
        error(id: id, code: 404, startOver.description)
    }

    static func error(id: String?, code: Int, _ message: String) -> String {
        "{" + (id.map { "\"id\":\($0)," } ?? "") + "\"type\":\"error\",\"code\":\(code),\"message\":\(JSONValue.quoted(message))}"
    }

    /// One socket's subscriptions and its bounded queue of outgoing messages.
    final class Session: Sendable {
        let socket: MultiplexSocket
        let identity: Identity
        let base: String
        let outbox: SocketOutbox
        /// By mode and URI bytes: two spellings of a name are two resources (see `ByteIdentity`).
        private let subscriptions = Mutex<[ByteIdentity: HubSubscription]>([:])

        init(socket: MultiplexSocket, identity: Identity, base: String, outbox: SocketOutbox) {
            self.socket = socket
            self.identity = identity
            self.base = base
            self.outbox = outbox
        }

        @discardableResult
        func send(_ message: String) -> Bool { outbox.send(message) }

        func close() {
            for subscription in subscriptions.withLock({ Array($0.values) }) { subscription.cancel() }
            outbox.finish()
        }

        func handle(_ text: String) async {
            guard let message = try? JSONValue(parsing: text), case .object = message else {
                send(MultiplexSocket.error(id: nil, code: 400, "not a JSON object"))
                return
            }
            // The id is echoed exactly as sent: a string stays a string, a number a number.
            var id: String?
            switch message["id"] {
            case nil: id = nil
            case .string(let value)?: id = JSONValue.quoted(value)
            case .int(let value)?: id = String(value)
            case .double(let value)?: id = JSONValue.double(value).text
            case .number(let text)?: id = text
            default:
                send(MultiplexSocket.error(id: nil, code: 400, "id must be a string or a number"))
                return
            }
            guard case .string(let type)? = message["type"] else {
                send(MultiplexSocket.error(id: id, code: 400, "type is required"))
                return
            }
            switch type {
            case "subscribe", "unsubscribe":
                guard case .string(let uri)? = message["uri"] else {
                    send(MultiplexSocket.error(id: id, code: 400, "uri is required"))
                    return
                }
                let mode: String
                switch message["mode"] {
                case nil: mode = "value"
                case .string(let value)? where value == "value" || value == "changes": mode = value
                default:
                    send(MultiplexSocket.error(id: id, code: 400, "mode must be value or changes"))
                    return
                }
                if type == "subscribe" {
                    let token: String?
                    switch message["after"] {
                    case nil: token = nil
                    case .string(let text)?: token = text
                    case let other?: token = other.text
                    }
                    switch ResumePosition.parse(token, epoch: socket.store.epoch) {
                    case .success(let start): await subscribe(id: id, uri: uri, mode: mode, from: start)
                    case .failure(let startOver): send(MultiplexSocket.startOver(id: id, startOver))
                    }
                } else {
                    subscriptions.withLock { $0.removeValue(forKey: ByteIdentity(mode + " " + uri)) }?.cancel()
                    send("{" + (id.map { "\"id\":\($0)," } ?? "") + "\"type\":\"unsubscribed\"}")
                }
            case "ping":
                send("{" + (id.map { "\"id\":\($0)," } ?? "") + "\"type\":\"pong\"}")
            default:
                send(MultiplexSocket.error(id: id, code: 400, "unknown message type '\(type)'"))
            }
        }

        private func subscribe(id: String?, uri: String, mode: String, from start: ResumePosition) async {
            let key = ByteIdentity(mode + " " + uri)
            let path: ResourcePath
            do {
                path = try Multiplex.target(uri: uri, inm: nil, defaultMax: 50).path
            } catch {
                send(MultiplexSocket.error(id: id, code: 400, "\(uri) is not a resource path"))
                return
            }
            guard (mode == "changes") == path.isCollection else {
                send(MultiplexSocket.error(id: id, code: 400, mode == "changes" ? "changes need a collection (a path ending in '/')" : "value subscriptions watch objects"))
                return
            }
            let filter: SubscriptionFilter = mode == "changes" ? .children(path) : .value(path)
            let watcher: Watcher
            do {
                watcher = try socket.access.watcher(identity, reading: filter)
            } catch {
                let problem = error as? Problem ?? socket.access.refusal(identity, .read, path)
                send(MultiplexSocket.error(id: id, code: Int(problem.status.code), problem.detail))
                return
            }
            let ack = "{" + (id.map { "\"id\":\($0)," } ?? "") + "\"type\":\"subscribed\"}"
            if subscriptions.withLock({ $0[key] != nil }) {
                send(ack)
                return
            }
            guard subscriptions.withLock({ $0.count }) < socket.maximumSubscriptions else {
                send(MultiplexSocket.error(id: id, code: 429, "at most \(socket.maximumSubscriptions) subscriptions per socket"))
                return
            }
            do {
                let previous: SequenceNumber
                if let after = start.sequence { previous = after } else { previous = try await socket.store.headSequence() }
                let sink = EventSink(session: self, uri: uri, path: path, isChanges: mode == "changes", start: previous)
                let subscription = try await socket.hub.subscribe(Subscription(filter, watcher: watcher, from: start), subscriber: sink)
                let replaced = subscriptions.withLock { table in
                    defer { table[key] = subscription }
                    return table[key]
                }
                replaced?.cancel()
                send(ack)
            } catch {
                if let startOver = StartOver(error) {
                    send(MultiplexSocket.startOver(id: id, startOver))
                    return
                }
                send(MultiplexSocket.error(id: id, code: 503, "could not subscribe: \(error)"))
            }
        }
    }

    /// Turns hub events for one subscription into `event` messages.
    final class EventSink: HubSubscriber {
        var kind: HubSubscriberKind { .liveResourceSocket }
        /// Where a mode's messages are cached in `HubEvent.encoded`, by keys built once: each
        /// is the same for every subscriber that spelled the URI the same way.
        private enum Keys {
            case value(message: EncodingKey<String>, frame: EncodingKey<ByteBuffer>)
            case changes(EncodingKey<SocketChangesMessage>)
        }

        let session: Session
        let uri: String
        let path: ResourcePath
        /// Where ready-made frames go when the session's socket takes them, held here so that a
        /// delivery reads no object of the session's (`SocketOutbox.FrameSender`).
        private let frames: SocketOutbox.FrameSender?
        private let keys: Keys
        /// The checkpoint before the next event: the `prev-changes` link of changes events.
        private let previous: Mutex<SequenceNumber>

        init(session: Session, uri: String, path: ResourcePath, isChanges: Bool, start: SequenceNumber) {
            self.session = session
            self.uri = uri
            self.path = path
            self.previous = Mutex(start)
            frames = session.outbox.frameSender
            let shared = session.socket.hub.encodingKeys
            keys =
                isChanges
                ? .changes(shared.shared(Self.changesKey(base: session.base, uri: uri)))
                : .value(message: shared.shared(EncodingKey("lr-ws:" + uri)), frame: shared.shared(EncodingKey("lr-ws-frame:" + uri)))
        }

        /// Names the changes message of `uri` asked for on `base`: its links carry the host.
        static func changesKey(base: String, uri: String) -> EncodingKey<SocketChangesMessage> {
            // The host is client-given too: its length keeps one (host, URI) pair from spelling another.
            EncodingKey("lr-ws-changes:\(base.utf8.count):" + base + uri)
        }

        func receive(_ event: HubEvent) -> Bool {
            // Built once per event, and framed once where sockets take ready-made frames.
            switch keys {
            case .value(let messageKey, let frameKey):
                if let frames {
                    return frames.send(event.encoded(as: frameKey) { [uri] in WebSocketFrames.text(Self.valueMessage(uri: uri, event.change)) })
                }
                return session.send(event.encoded(as: messageKey) { [uri] in Self.valueMessage(uri: uri, event.change) })
            case .changes(let changesKey):
                let change = event.change
                let message = event.encoded(as: changesKey) { [uri, path, session] in
                    SocketChangesMessage(uri: uri, base: session.base, path: path, epoch: session.socket.store.epoch, change: change)
                }
                let prev = previous.withLock { previous in
                    defer { previous = change.sequence }
                    return previous
                }
                if let frames { return frames.send(message.frame(after: prev)) }
                return session.send(message.message(after: prev))
            }
        }

        static func valueMessage(uri: String, _ change: ChangeEvent) -> String {
            "{\"type\":\"event\",\"uri\":\(JSONValue.quoted(uri)),\"headers\":{\"ETag\":\(JSONValue.quoted(change.etag.headerValue))},"
                + "\"body\":\(change.value ?? "null")}"
        }

        func hubDidDrop(reason: HubDropReason) {
            session.send(MultiplexSocket.error(id: nil, code: 410, "subscription to \(uri) ended: \(reason)"))
        }
    }
}
