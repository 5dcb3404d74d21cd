import CoreMetrics
import EddyCore

/// Reads the gauges that describe state — connections, subscriptions, the log's range, lag,
/// webhook backlog — right before a scrape is written, so none of them costs anything between
/// scrapes. A store that cannot be reached leaves those gauges at their last value.
struct MetricsScrape: Sendable {
    let metrics: EddyMetrics
    let store: any ResourceStore
    let hub: Hub
    let connections: ConnectionLimiter

    /// Pending webhook deliveries are counted up to this many per registration, over at most
    /// this many registrations: a scrape reads the log once per webhook, and a dead target's
    /// backlog need not be counted exactly to be seen.
    static let backlogCountLimit = 1000

    func refresh() async {
        gauge("eddy_open_connections").record(connections.openConnections)
        let subscriptions = hub.subscriberCounts()
        for kind in SubscriberKind.all + [.other] {
            gauge("eddy_subscriptions", [("protocol", kind.protocolName), ("transport", kind.transport)])
                .record(subscriptions[kind, default: 0])
        }
        guard let head = try? await store.headSequence() else { return }
        gauge("eddy_log_head_sequence").record(Int64(clamping: head))
        if let floor = try? await store.retainedFloor() {
            gauge("eddy_log_retained_floor_sequence").record(Int64(clamping: floor))
            gauge("eddy_log_retained_events").record(Int64(clamping: head >= floor ? head - floor : 0))
        }
        let published = metrics.newestPublishedSequence
        gauge("eddy_follower_lag_events").record(Int64(clamping: head > published ? head - published : 0))
        if let backlog = await webhookBacklog() { gauge("eddy_webhook_backlog_events").record(backlog) }
    }

    /// Events the webhooks' filters match after each one's delivery cursor, summed.
    private func webhookBacklog() async -> Int? {
        guard let stored = try? await store.registrations(kind: Webhooks.kind) else { return nil }
        var backlog = 0
        for registration in stored.prefix(Self.backlogCountLimit) {
            guard let parsed = Webhooks.Registration(payload: registration.payload) else { continue }
            let filter: SubscriptionFilter = parsed.mode == .value ? .value(parsed.path) : .children(parsed.path)
            let pending = try? await store.events(after: registration.cursor, matching: filter, limit: Self.backlogCountLimit)
            backlog += pending?.count ?? 0
        }
        return backlog
    }

    private func gauge(_ label: String, _ dimensions: [(String, String)] = []) -> CoreMetrics.Gauge {
        // The registry hands back the same gauge for the same name and labels.
        CoreMetrics.Gauge(label: label, dimensions: dimensions, factory: metrics.factory)
    }
}
