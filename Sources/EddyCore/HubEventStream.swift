/// The `AsyncSequence` face of a hub subscription, for code where a task per subscriber is
/// fine (tests, webhooks, the CLI). Bounded: when `bufferSize` events are queued unread, the
/// stream ends with `HubDropReason.tooSlow`.
public struct HubEventStream: AsyncSequence, Sendable {
    public typealias Element = HubEvent

    let stream: AsyncThrowingStream<HubEvent, any Error>
    let subscription: HubSubscription

    public func makeAsyncIterator() -> AsyncThrowingStream<HubEvent, any Error>.AsyncIterator {
        stream.makeAsyncIterator()
    }

    public func cancel() {
        subscription.cancel()
    }
}

extension Hub {
    public func events(_ subscription: Subscription, bufferSize: Int = 256) async throws -> HubEventStream {
        let (stream, continuation) = AsyncThrowingStream<HubEvent, any Error>.makeStream(
            bufferingPolicy: .bufferingOldest(bufferSize)
        )
        let sink = StreamSubscriber(continuation: continuation)
        let handle = try await subscribe(subscription, subscriber: sink)
        continuation.onTermination = { _ in handle.cancel() }
        return HubEventStream(stream: stream, subscription: handle)
    }
}

private final class StreamSubscriber: HubSubscriber {
    var kind: HubSubscriberKind { .inProcess }
    let continuation: AsyncThrowingStream<HubEvent, any Error>.Continuation

    init(continuation: AsyncThrowingStream<HubEvent, any Error>.Continuation) {
        self.continuation = continuation
    }

    func receive(_ event: HubEvent) -> Bool {
        if case .enqueued = continuation.yield(event) { return true }
        return false
    }

    func hubDidDrop(reason: HubDropReason) {
        continuation.finish(throwing: reason)
    }
}
