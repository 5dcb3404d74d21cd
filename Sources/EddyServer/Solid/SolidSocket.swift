import EddyCore
import Foundation
import HTTPTypes
import HummingbirdWebSocket
import Logging
import NIOCore

/// The WebSocket behind `source` (WebSocketSubscription2021) and `receiveFrom`
/// (WebSocketChannel2023): each notification is one text message. The capability in the URL
/// is the credential. Clients may offer the channel type (or `solid-0.1`) as subprotocol, or none.
struct SolidSocket: WebSocketService {
    let channels: SolidChannels
    let hub: Hub
    let access: AccessController
    let epoch: String
    let bufferMessages: Int

    var subprotocols: [String] {
        SolidVocabulary.ChannelType.allCases.filter(\.usesWebSocket).flatMap { [$0.rawValue, $0.iri] } + ["solid-0.1"]
    }

    /// Refuses unknown, deleted or ended capabilities before the upgrade.
    func accepts(path: String) async -> Bool {
        guard let channel = await channels.channel(token: String(path.dropFirst(StorageDescription.receivePrefix.count))) else { return false }
        return channel.type.usesWebSocket
    }

    func serve(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, identity: Identity, request: HTTPRequest,
        connection: SocketConnection?, logger: Logger
    ) async throws {
        let path = String((request.path ?? "").split(separator: "?").first ?? "")
        guard let channel = await channels.channel(token: String(path.dropFirst(StorageDescription.receivePrefix.count))) else {
            try await outbound.close(.policyViolation, reason: "unknown channel")
            return
        }
        // The capability carries its subject's read access, checked now as every subscription is.
        guard let watcher = try? access.watcher(Identity(subject: channel.subject), reading: channel.filter) else {
            try await outbound.close(.policyViolation, reason: "the channel's subject may no longer read its topic")
            return
        }
        let outbox = await SocketOutbox.open(on: connection, capacity: bufferMessages)
        if let initial = try await channels.stateNotification(for: channel) { outbox.send(initial) }
        let feed = NotificationFeed(
            channel: channel, epoch: epoch, keys: hub.encodingKeys, send: Self.sender(for: channel, to: outbox, keys: hub.encodingKeys),
            onEnd: { _ in outbox.finish() })
        // The hub ends it at endAt; the feed then finishes the outbox.
        let subscription = try await hub.subscribe(Subscription(channel.filter, watcher: watcher, pace: channel.pace), subscriber: feed)
        // Nothing is expected from the client; reading notices when it goes away.
        try await outbox.serve(
            inbound: inbound, outbound: outbound, maximumMessageBytes: 4096, logger: logger, handle: { _ in },
            ended: { subscription.cancel() })
    }

    /// Sends each notification as one frame for every socket of the topic, where the socket
    /// takes ready-made frames.
    private static func sender(for channel: SolidChannel, to outbox: SocketOutbox, keys: EncodingKeys) -> NotificationFeed.Send {
        guard let frames = outbox.frameSender else { return { outbox.send($0.text) } }
        let frameKey = keys.shared(Self.frameKey(of: channel))
        return { notification in frames.send(notification.encoded(as: frameKey) { WebSocketFrames.text(notification.text) }) }
    }

    /// Names a notification's frame: the same for every socket whose channel gets the same text.
    static func frameKey(of channel: SolidChannel) -> EncodingKey<ByteBuffer> {
        EncodingKey("ws-frame|" + NotificationFeed.encodingKey(of: channel))
    }
}
