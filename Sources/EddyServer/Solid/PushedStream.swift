import EddyCore
import Hummingbird
import NIOCore

/// A streaming response carrying a channel's notifications: subscribes a `NotificationFeed`
/// for the channel (optionally replaying after a position), sends the `state` notification
/// first when there is one, keeps idle proxies awake, and ends when the channel does. A client
/// that cannot resume gets the stream's start-over frame and the end of the stream, as on
/// every other event stream: the connection is already the stream's, so no status can follow.
/// A stream the hub drops gets `endFrame` of the reason last, where the format has one.
enum PushedStream {
    static func respond(
        channel: SolidChannel, from start: Result<ResumePosition, StartOver>, initial: String?, hub: Hub, access: AccessController, epoch: String,
        ticker: KeepAliveTicker, buffer: Int, connection: (any Channel)?, contentType: String,
        frame: @escaping @Sendable (String, Checkpoint?) -> String, startOverFrame: @Sendable (StartOver) -> String = { _ in "" },
        endFrame: @escaping @Sendable (HubDropReason) -> String? = { _ in nil }, keepAliveFrame: String
    ) async throws -> Response {
        // Refused (as its subject) before the connection becomes the stream's.
        let watcher = try access.watcher(Identity(subject: channel.subject), reading: channel.filter)
        let outlet = await StreamOutlet.open(on: connection, capacity: buffer)
        // One buffer per event for every stream of the topic in this format.
        let frameKey = hub.encodingKeys.shared(EncodingKey<ByteBuffer>(NotificationFeed.encodingKey(of: channel) + "|" + contentType))
        let feed = NotificationFeed(
            channel: channel, epoch: epoch, keys: hub.encodingKeys,
            send: { notification in
                // A refused frame makes the hub drop the feed as too slow, which ends the outlet.
                outlet.send(notification.encoded(as: frameKey) { ByteBuffer(string: frame(notification.text, notification.checkpoint)) })
            },
            onEnd: { reason in outlet.finish(last: endFrame(reason).map { ByteBuffer(string: $0) }) })
        var first = initial.map { ByteBuffer(string: frame($0, nil)) }
        var subscription: HubSubscription?
        do {
            subscription = try await hub.subscribe(
                Subscription(channel.filter, watcher: watcher, from: try start.get(), pace: channel.pace), subscriber: feed)
        } catch {
            guard let startOver = StartOver(error) else { throw error }
            first = ByteBuffer(string: startOverFrame(startOver))
            outlet.finish()
        }
        let held = subscription
        return outlet.response(
            headers: [.contentType: contentType, .cacheControl: "no-cache"], first: first,
            ticker: ticker, keepAliveFrame: ByteBuffer(string: keepAliveFrame), onEnd: { held?.cancel() })
    }
}
