import EddyCore
import Hummingbird
import NIOCore
import ServiceLifecycle

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
        if let initial { continuation.yield(ByteBuffer(string: frame(initial, nil))) }
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
        let endAt = channel.endAt
        let body = ResponseBody { writer in
            let keepAlive = ticker.register { continuation.yield(ByteBuffer(string: keepAliveFrame)) }
            defer {
                keepAlive.cancel()
                subscription.cancel()
            }
            try await withGracefulShutdownHandler {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    if let endAt {
                        group.addTask {
                            try await Task.sleep(for: .seconds(max(0, endAt.timeIntervalSinceNow)))
                            continuation.finish()
                        }
                    }
                    for await chunk in stream { try await writer.write(chunk) }
                    group.cancelAll()
                }
            } onGracefulShutdown: {
                continuation.finish()
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: contentType, .cacheControl: "no-cache"], body: body)
    }
}
