import EddyCore
import ServiceLifecycle
import Synchronization

/// A held request waiting for the first matching event. The hub subscription is made before
/// the caller looks at the current state (so a write between look and wait is not missed),
/// and the wait ends on an event, on the time limit, or when the server shuts down.
final class LongPoll: Sendable {
    private let stream: AsyncStream<HubEvent>
    private let continuation: AsyncStream<HubEvent>.Continuation
    private let subscriptions = Mutex<[HubSubscription]>([])

    init() {
        (stream, continuation) = AsyncStream<HubEvent>.makeStream(bufferingPolicy: .bufferingOldest(64))
    }

    func watch(_ wanted: [Subscription], hub: Hub) async throws {
        for subscription in wanted {
            let handle = try await hub.subscribe(subscription, subscriber: Sink(continuation: continuation))
            subscriptions.withLock { $0.append(handle) }
        }
    }

    /// Subscribes to every filter as `principal`, with the per-filter admissions the caller's
    /// access controller gave (the changes long-poll's entry point).
    func watch(_ filters: [SubscriptionFilter], hub: Hub, principal: String?, admits: [(@Sendable (ResourcePath) -> Bool)?]) async throws {
        try await watch(
            zip(filters, admits).map { filter, admit in
                Subscription(filter, watcher: Watcher(principal: principal, admits: admit ?? { _ in true }))
            }, hub: hub)
    }

    /// The next event, or nil when `deadline` passes (or the server is shutting down) first.
    private func next(before deadline: ContinuousClock.Instant) async -> HubEvent? {
        let stream = self.stream
        let continuation = self.continuation
        return await withGracefulShutdownHandler {
            await withTaskGroup(of: HubEvent?.self) { group in
                group.addTask {
                    for await event in stream { return event }
                    return nil
                }
                group.addTask {
                    try? await Task.sleep(until: deadline, clock: .continuous)
                    return nil
                }
                let first = await group.next() ?? nil
                group.cancelAll()
                return first
            }
        } onGracefulShutdown: {
            continuation.finish()
        }
    }

    /// Runs `evaluate` now and again after each event until it has an answer or `seconds` pass
    /// (nil). An event is only a hint to look again: it may be one the first look already saw,
    /// committed before the subscription but fanned out after it.
    func answer<Answer>(within seconds: Double, _ evaluate: () async throws -> Answer?) async throws -> Answer? {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while true {
            if let answer = try await evaluate() { return answer }
            guard ContinuousClock.now < deadline, await next(before: deadline) != nil else { return nil }
        }
    }

    func cancel() {
        for subscription in subscriptions.withLock({ $0 }) { subscription.cancel() }
        continuation.finish()
    }

    private final class Sink: HubSubscriber {
        var kind: HubSubscriberKind { .longPoll }
        let continuation: AsyncStream<HubEvent>.Continuation
        init(continuation: AsyncStream<HubEvent>.Continuation) { self.continuation = continuation }

        func receive(_ event: HubEvent) -> Bool {
            // A waiter needs only the first event; once its small buffer is full, later ones
            // add nothing, so they are not a reason to drop it.
            _ = continuation.yield(event)
            return true
        }

        func hubDidDrop(reason: HubDropReason) { continuation.finish() }
    }
}
