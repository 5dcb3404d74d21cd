import EddyCore
import HTTPTypes
import HummingbirdWebSocket
import Logging
import NIOCore
import Synchronization

/// Solid's legacy WebSocket protocol, `solid-0.1`, which SolidOS and rdflib.js's update manager
/// use: every resource response names this socket in `Updates-Via`; the client sends
/// `sub <uri>` lines, is answered `ack <uri>` (or `error …`), and gets `pub <uri>` each time
/// the resource changes. A container's URI is published when one of its children is created,
/// changed or deleted. The protocol has no resume: a client reloads what it watches after a
/// reconnect.
struct LegacySocket: WebSocketService {
    static let path = "/.eddy/solid-0.1"
    static let subprotocol = "solid-0.1"
    static let updatesVia = HTTPField.Name("Updates-Via")!

    let hub: Hub
    let access: AccessController
    /// `http` or `https`: how clients reach the server, for the URIs of host-relative `sub`s.
    let scheme: String
    let maximumSubscriptions: Int
    let maximumMessageBytes: Int
    let bufferMessages: Int

    var subprotocols: [String] { [Self.subprotocol] }

    /// The socket's URL for a client that reached the server at `baseURL`.
    static func url(_ baseURL: String) -> String {
        LiveEndpoints.webSocketScheme(baseURL + path)
    }

    func serve(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, identity: Identity, request: HTTPRequest,
        connection: SocketConnection?, logger: Logger
    ) async throws {
        let outbox = await SocketOutbox.open(on: connection, capacity: bufferMessages)
        let session = Session(socket: self, identity: identity, host: request.authority, outbox: outbox)
        outbox.send("protocol \(Self.subprotocol)")
        if request.headerFields[.secWebSocketProtocol] == nil {
            outbox.send("warning Missing Sec-WebSocket-Protocol header, expected value '\(Self.subprotocol)'")
        }
        try await outbox.serve(
            inbound: inbound, outbound: outbound, maximumMessageBytes: maximumMessageBytes, logger: logger,
            handle: { await session.handle($0) }, ended: { session.close() })
    }

    /// One socket's subscriptions, by URI.
    final class Session: Sendable {
        let socket: LegacySocket
        let identity: Identity
        let host: String?
        let outbox: SocketOutbox
        private let state = Mutex(Subscriptions())

        struct Subscriptions {
            var byURI: [ByteIdentity: HubSubscription] = [:]
            /// Set when the socket has closed: a subscription made after is cancelled at once.
            var closed = false
        }

        init(socket: LegacySocket, identity: Identity, host: String?, outbox: SocketOutbox) {
            self.socket = socket
            self.identity = identity
            self.host = host
            self.outbox = outbox
        }

        func close() {
            let open = state.withLock { state in
                state.closed = true
                defer { state.byURI = [:] }
                return Array(state.byURI.values)
            }
            for subscription in open { subscription.cancel() }
            outbox.finish()
        }

        /// A message may hold several lines; each is a command of its own.
        func handle(_ text: String) async {
            for line in text.split(whereSeparator: \.isNewline) where !line.allSatisfy(\.isWhitespace) {
                do {
                    let command = try LegacyCommand.parse(line, host: host, scheme: socket.scheme)
                    await subscribe(command)
                } catch {
                    outbox.send("error \(error.reason)")
                }
            }
        }

        private func subscribe(_ command: LegacyCommand) async {
            let key = ByteIdentity(command.uri)
            enum Admission { case already, full, new }
            let admission = state.withLock { state -> Admission in
                if state.byURI[key] != nil { return .already }
                return state.byURI.count >= socket.maximumSubscriptions ? .full : .new
            }
            switch admission {
            case .already:
                outbox.send("ack \(command.uri)")
                return
            case .full:
                outbox.send("error \(command.uri): this socket already has \(socket.maximumSubscriptions) subscriptions, the most it may hold")
                return
            case .new:
                break
            }
            // A container is published when its children change: its own listing is what changed.
            let filter: SubscriptionFilter = command.path.isCollection ? .children(command.path) : .value(command.path)
            let subscription: HubSubscription
            do {
                let watcher = try socket.access.watcher(identity, reading: filter)
                subscription = try await socket.hub.subscribe(
                    Subscription(filter, watcher: watcher), subscriber: Sink(session: self, uri: command.uri))
            } catch {
                outbox.send("error \(command.uri): \((error as? Problem)?.detail ?? "\(error)")")
                return
            }
            let kept = state.withLock { state in
                guard !state.closed else { return false }
                state.byURI[key] = subscription
                return true
            }
            guard kept else {
                subscription.cancel()
                return
            }
            outbox.send("ack \(command.uri)")
        }

        /// The hub ended a subscription (a policy reload revoked it, or the server stops): the
        /// client is told, and may `sub` again.
        func dropped(_ uri: String, reason: HubDropReason) {
            state.withLock { _ = $0.byURI.removeValue(forKey: ByteIdentity(uri)) }
            outbox.send("error \(uri): \(reason)")
        }
    }

    /// Sends `pub <uri>` for every event of its subscription. The message names the subscribed
    /// URI, not the event, so its frame is built once.
    final class Sink: HubSubscriber {
        var kind: HubSubscriberKind { .solidLegacy }
        let session: Session
        let uri: String
        private let message: String
        private let frame: ByteBuffer
        private let frames: SocketOutbox.FrameSender?

        init(session: Session, uri: String) {
            self.session = session
            self.uri = uri
            message = "pub " + uri
            frame = WebSocketFrames.text(message)
            frames = session.outbox.frameSender
        }

        func receive(_ event: HubEvent) -> Bool {
            if let frames { return frames.send(frame) }
            return session.outbox.send(message)
        }

        func hubDidDrop(reason: HubDropReason) {
            session.dropped(uri, reason: reason)
        }
    }
}
