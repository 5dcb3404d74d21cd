import EddyCore
import Hummingbird
import NIOCore

/// A streaming response carrying a channel's notifications: subscribes a `NotificationFeed`
/// for the channel (optionally replaying after a position), sends the `state` notification
/// first when there is one, keeps idle proxies awake, and ends when the channel does.
enum PushedStream {
    static func respond(
        channel: SolidChannel, after: SequenceNumber?, initial: String?, hub: Hub, access: AccessController, epoch: String,
        ticker: KeepAliveTicker, buffer: Int, contentType: String,
        frame: @escaping @Sendable (String, Checkpoint?) -> String, keepAliveFrame: String
    ) async throws -> Response {
        let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream(bufferingPolicy: .bufferingOldest(buffer))
        let feed = NotificationFeed(
            channel: channel, epoch: epoch,
            send: { notification, checkpoint in
                if case .enqueued = continuation.yield(ByteBuffer(string: frame(notification, checkpoint))) { return true }
                continuation.finish()
                return false
            },
            onEnd: { continuation.finish() })
        let identity = Identity(subject: channel.subject)
        let subscription = try await hub.subscribe(
            channel.filter, after: after, subscriber: feed, principal: channel.subject,
            admits: access.eventAdmission(for: channel.filter, identity: identity))
        let body = EventStreamResponse.body(
            stream, continuation, first: initial.map { ByteBuffer(string: frame($0, nil)) }, ticker: ticker,
            keepAliveFrame: ByteBuffer(string: keepAliveFrame), endAt: channel.endAt, onEnd: { subscription.cancel() })
        return Response(status: .ok, headers: [.contentType: contentType, .cacheControl: "no-cache"], body: body)
    }
}
