import EddyCore
import Hummingbird
import NIOCore

/// A streaming response carrying a channel's notifications: subscribes a `NotificationFeed`
/// for the channel (optionally replaying after a position), sends the `state` notification
/// first when there is one, keeps idle proxies awake, and ends when the channel does.
enum PushedStream {
    static func respond(
        channel: SolidChannel, after: SequenceNumber?, initial: String?, hub: Hub, access: AccessController, epoch: String,
        ticker: KeepAliveTicker, buffer: Int, connection: (any Channel)?, contentType: String,
        frame: @escaping @Sendable (String, Checkpoint?) -> String, keepAliveFrame: String
    ) async throws -> Response {
        let outlet = await StreamOutlet.open(on: connection, capacity: buffer)
        let feed = NotificationFeed(
            channel: channel, epoch: epoch, keys: hub.encodingKeys,
            send: { notification, checkpoint in
                if outlet.send(ByteBuffer(string: frame(notification, checkpoint))) { return true }
                outlet.finish()
                return false
            },
            onEnd: { outlet.finish() })
        let identity = Identity(subject: channel.subject)
        let subscription = try await hub.subscribe(
            channel.filter, after: after, subscriber: feed, principal: channel.subject,
            admits: access.eventAdmission(for: channel.filter, identity: identity))
        return outlet.response(
            headers: [.contentType: contentType, .cacheControl: "no-cache"], first: initial.map { ByteBuffer(string: frame($0, nil)) },
            ticker: ticker, keepAliveFrame: ByteBuffer(string: keepAliveFrame), endAt: channel.endAt, onEnd: { subscription.cancel() })
    }
}
