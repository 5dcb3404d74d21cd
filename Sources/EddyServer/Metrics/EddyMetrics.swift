import CoreMetrics
import EddyCore
import Foundation
import Prometheus
import Synchronization

/// The server's Prometheus metrics. Each server owns its registry and hands its factory to the
/// swift-metrics instruments it makes, instead of bootstrapping the process-wide
/// `MetricsSystem`: that can be done once per process, and tests run many servers in one.
///
/// Counters and histograms are fed by the code that knows the facts, through hooks that cost
/// at most one atomic add per publish, commit batch or webhook attempt — never one per
/// subscriber. Gauges that describe state (connections, subscriptions, the log's range,
/// backlogs) are read at each scrape instead (`MetricsScrape`).
public final class EddyMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory

    let eventsCommitted: CoreMetrics.Counter
    let commitBatchEvents: Recorder
    let commitLatency: CoreMetrics.Timer
    let deliveries: CoreMetrics.Counter
    let publishes: CoreMetrics.Counter
    let webhookAttempts: CoreMetrics.Counter
    let webhookFailures: CoreMetrics.Counter
    private let drops: [String: CoreMetrics.Counter]
    /// The newest sequence number handed to the hub: the head minus this is how far the node's
    /// fan-out is behind the log (on PostgreSQL, behind what other nodes committed).
    private let newestPublished = Atomic<UInt64>(0)

    /// The metrics listener's port, once it listens.
    public let listening = BoundPort()

    static let dropReasons = ["tooSlow", "replayOverrun", "revoked", "shutdown", "endAt"]

    public init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["eddy_commit_latency_seconds"] = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
        ]
        // Group commit takes at most 256 writes per transaction; PostgreSQL's follower reads
        // pages of up to 500 events.
        factory.valueHistogramBuckets["eddy_commit_batch_events"] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
        self.registry = registry
        self.factory = factory
        eventsCommitted = CoreMetrics.Counter(label: "eddy_events_committed_total", factory: factory)
        commitBatchEvents = Recorder(label: "eddy_commit_batch_events", aggregate: true, factory: factory)
        commitLatency = CoreMetrics.Timer(label: "eddy_commit_latency_seconds", factory: factory)
        deliveries = CoreMetrics.Counter(label: "eddy_deliveries_total", factory: factory)
        publishes = CoreMetrics.Counter(label: "eddy_publishes_total", factory: factory)
        webhookAttempts = CoreMetrics.Counter(label: "eddy_webhook_attempts_total", factory: factory)
        webhookFailures = CoreMetrics.Counter(label: "eddy_webhook_failures_total", factory: factory)
        var drops: [String: CoreMetrics.Counter] = [:]
        for reason in Self.dropReasons {
            drops[reason] = CoreMetrics.Counter(
                label: "eddy_subscribers_dropped_total", dimensions: [("reason", reason)], factory: factory)
        }
        self.drops = drops
    }

    /// The hub's hook: one call per publish and per dropped subscriber.
    public var hubObserver: HubObserver {
        HubObserver(
            published: { [self] events, offers in
                publishes.increment()
                deliveries.increment(by: offers)
            },
            dropped: { [self] reason in drops[Self.label(reason)]?.increment() })
    }

    static func label(_ reason: HubDropReason) -> String {
        switch reason {
        case .tooSlow: "tooSlow"
        case .replayOverrun: "replayOverrun"
        case .revoked: "revoked"
        case .shutdown: "shutdown"
        case .ended: "endAt"
        }
    }

    /// Called with each batch the store's commit listener gets (one transaction on SQLite, one
    /// read of the log on PostgreSQL). The latency is from the oldest event's timestamp, taken
    /// when its write was applied inside the transaction, to the committed batch reaching here.
    public func committed(_ events: [ChangeEvent]) {
        guard let oldest = events.first, let newest = events.last else { return }
        eventsCommitted.increment(by: events.count)
        commitBatchEvents.record(events.count)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        commitLatency.recordMilliseconds(max(0, now - oldest.timestamp))
        newestPublished.max(newest.sequence, ordering: .relaxed)
    }

    var newestPublishedSequence: SequenceNumber { newestPublished.load(ordering: .relaxed) }

    func notePublished(upTo sequence: SequenceNumber) {
        newestPublished.max(sequence, ordering: .relaxed)
    }

    /// `policy` with its attempts counted here.
    public func observing(_ policy: DeliveryPolicy) -> DeliveryPolicy {
        var observed = policy
        observed.attempted = { [self] succeeded in
            webhookAttempts.increment()
            if !succeeded { webhookFailures.increment() }
        }
        return observed
    }
}
