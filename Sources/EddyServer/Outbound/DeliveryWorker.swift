import AsyncHTTPClient
import EddyCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// One outgoing request a delivery makes.
struct OutboundRequest: Sendable {
    var url: URL
    var headers: [(String, String)]
    var body: String?
}

/// How often and how patiently Eddy retries a delivery.
public struct DeliveryPolicy: Sendable {
    public var maximumAttempts: Int = 8
    public var firstRetrySeconds: Double = 1
    public var maximumRetrySeconds: Double = 300
    public var timeoutSeconds: Double = 10
    /// Told of each attempt and whether it succeeded, for metrics.
    public var attempted: (@Sendable (_ succeeded: Bool) -> Void)?

    public init() {}
}

/// Delivers the events of one registration to its target, in log order, one at a time. It
/// reads from the change log after the registration's cursor and advances the cursor after
/// each delivery, so a restart resumes where it stopped (at-least-once), and a slow or dead
/// target only ever delays itself.
final class DeliveryWorker: Sendable {
    /// What the worker needs from its owner: the events it serves and how each becomes a request.
    struct Route: Sendable {
        let filter: SubscriptionFilter
        /// Whether the registration's subject may still see this path (checked per delivery).
        let mayDeliver: @Sendable (ResourcePath) -> Bool
        /// The request for one event; `previous` is the cursor before it. Nil skips the event.
        let request: @Sendable (_ event: ChangeEvent, _ previous: SequenceNumber) -> OutboundRequest?
        /// At most one delivery per this period (`RateGate`): deliveries that pile up meanwhile
        /// collapse to the newest, sent at the period's end, so the target ends on the latest state.
        var minimumInterval: Duration? = nil
    }

    let registrationID: String
    private let route: Route
    private let store: any ResourceStore
    private let hub: Hub
    private let client: HTTPClient
    private let outbound: OutboundGuard
    private let policy: DeliveryPolicy
    private let logger: Logger
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(
        registrationID: String, route: Route, store: any ResourceStore, hub: Hub, client: HTTPClient, outbound: OutboundGuard,
        policy: DeliveryPolicy, logger: Logger
    ) {
        self.registrationID = registrationID
        self.route = route
        self.store = store
        self.hub = hub
        self.client = client
        self.outbound = outbound
        self.policy = policy
        self.logger = logger
    }

    func start(from cursor: SequenceNumber, initial: OutboundRequest? = nil) {
        let work = Task {
            if let initial { await self.deliver(initial, sequence: cursor) }
            await self.run(from: cursor)
        }
        task.withLock { $0 = work }
    }

    /// Makes one delivery and ends; the cursor is not touched.
    func deliverOnly(_ request: OutboundRequest) {
        let work = Task { await self.deliver(request, sequence: 0) }
        task.withLock { $0 = work }
    }

    /// Stops after the delivery in flight; returns once the worker has ended.
    func stop() async {
        let running = task.withLock { $0 }
        running?.cancel()
        await running?.value
    }

    private func run(from start: SequenceNumber) async {
        let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        guard let subscription = try? await hub.subscribe(Subscription(route.filter, watcher: .server), subscriber: Wakeup(continuation: wake)) else { return }
        defer { subscription.cancel() }
        var wakeupIterator = wakeups.makeAsyncIterator()
        var cursor = start
        var rate = RateGate<Held>(interval: route.minimumInterval)
        while !Task.isCancelled {
            let batch: [ChangeEvent]
            do {
                batch = try await store.events(after: cursor, matching: route.filter, limit: 100)
            } catch let StoreError.historyTruncated(_, floor) {
                logger.error(
                    "deliveries skipped: the log no longer holds them", metadata: ["registration": "\(registrationID)", "resumingAfter": "\(floor)"])
                cursor = floor
                continue
            } catch {
                if Task.isCancelled { return }
                logger.error("reading the log for deliveries failed", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            if batch.isEmpty {
                guard await wakeupIterator.next() != nil else { return }
                continue
            }
            // The core's rate rule, as every channel type applies it: the first delivery goes at
            // once; what comes within the period is held, the newest deliverable replacing the
            // rest, and goes at the period's end. The cursor passes a held event only once the
            // delivery that replaced it is made.
            var flushAt: ContinuousClock.Instant?
            for event in batch {
                if Task.isCancelled { return }
                if route.mayDeliver(event.path), let request = route.request(event, cursor) {
                    switch rate.offer(Held(request: request, sequence: event.sequence), now: .now) {
                    case .deliver(let due): await deliver(due.request, sequence: due.sequence)
                    case .flush(let instant): flushAt = instant
                    case .held: break
                    }
                }
                cursor = event.sequence
                if flushAt == nil { await persist(cursor) }
            }
            if let flushAt {
                try? await Task.sleep(until: flushAt, clock: .continuous)
                if Task.isCancelled { return }
                if let due = rate.due(now: .now) { await deliver(due.request, sequence: due.sequence) }
                await persist(cursor)
            }
        }
    }

    private struct Held: Sendable {
        let request: OutboundRequest
        let sequence: SequenceNumber
    }

    /// Saves the cursor even while the worker is being stopped: a delivery that was made must
    /// not be made again after a clean restart.
    private func persist(_ cursor: SequenceNumber) async {
        let store = self.store
        let id = registrationID
        let saved = Task.detached { try await store.advanceRegistration(id: id, to: cursor) }
        do {
            try await saved.value
        } catch {
            logger.error("could not save a delivery cursor", metadata: ["registration": "\(id)", "error": "\(error)"])
        }
    }

    /// Tries one delivery until it succeeds or the attempts run out.
    private func deliver(_ request: OutboundRequest, sequence: SequenceNumber) async {
        var delay = policy.firstRetrySeconds
        for attempt in 1...policy.maximumAttempts {
            if Task.isCancelled { return }
            let outcome = await send(request)
            policy.attempted?((try? outcome.get()) != nil)
            switch outcome {
            case .success:
                return
            case .failure(let reason):
                if attempt == policy.maximumAttempts {
                    logger.warning(
                        "delivery given up", metadata: [
                            "registration": "\(registrationID)", "target": "\(request.url)", "sequence": "\(sequence)", "attempts": "\(attempt)",
                            "reason": "\(reason)",
                        ])
                    return
                }
                logger.debug("delivery failed; retrying", metadata: ["target": "\(request.url)", "reason": "\(reason)"])
                try? await Task.sleep(for: .seconds(delay))
                delay = min(delay * 2, policy.maximumRetrySeconds)
            }
        }
    }

    private enum Failure: Error, CustomStringConvertible {
        case refused(OutboundRefusal)
        case status(UInt)
        case transport(String)

        var description: String {
            switch self {
            case .refused(let refusal): "target refused: \(refusal)"
            case .status(let code): "answered \(code)"
            case .transport(let error): error
            }
        }
    }

    private func send(_ request: OutboundRequest) async -> Result<Void, Failure> {
        do {
            _ = try await outbound.vet(request.url)
        } catch {
            return .failure(.refused(error))
        }
        var http = HTTPClientRequest(url: request.url.absoluteString)
        http.method = .POST
        for (name, value) in request.headers { http.headers.add(name: name, value: value) }
        if let body = request.body { http.body = .bytes(ByteBuffer(string: body)) }
        do {
            let response = try await client.execute(http, timeout: .milliseconds(Int64(policy.timeoutSeconds * 1000)))
            // Read (and bound) the answer so the connection can be reused.
            _ = try? await response.body.collect(upTo: 64 * 1024)
            guard (200..<300).contains(response.status.code) else { return .failure(.status(response.status.code)) }
            return .success(())
        } catch {
            return .failure(.transport("\(error)"))
        }
    }

    private final class Wakeup: HubSubscriber {
        var kind: HubSubscriberKind { .webhook }
        let continuation: AsyncStream<Void>.Continuation
        init(continuation: AsyncStream<Void>.Continuation) { self.continuation = continuation }
        func receive(_ event: HubEvent) -> Bool {
            continuation.yield(())
            return true
        }
        func hubDidDrop(reason: HubDropReason) { continuation.finish() }
    }
}
