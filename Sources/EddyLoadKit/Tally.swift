import Histogram

/// What the subscribers of one process saw. Workers send theirs to the coordinator as JSON,
/// which merges them.
public struct SubscriberTally: Codable, Sendable {
    public var connected = 0
    public var failed = 0
    /// Streams that ended or sockets that closed while the run was on.
    public var disconnected = 0
    public var deliveries = 0
    public var unique = 0
    public var duplicates = 0
    /// Payloads sent before the run began (a stream's initial value): not counted as deliveries.
    public var stale = 0
    /// Indexed by topic.
    public var uniqueByTopic: [Int] = []
    public var subscribersByTopic: [Int] = []
    /// Delivery latency in microseconds.
    public var latency = makeLatencyHistogram()
    public var firstDelivery: UInt64 = 0
    public var lastDelivery: UInt64 = 0
    public var connectSeconds: Double = 0
    public var firstError: String?

    public init() {}

    mutating func ensureTopics(_ count: Int) {
        if uniqueByTopic.count < count {
            uniqueByTopic += Array(repeating: 0, count: count - uniqueByTopic.count)
            subscribersByTopic += Array(repeating: 0, count: count - subscribersByTopic.count)
        }
    }

    public mutating func merge(_ other: SubscriberTally) {
        connected += other.connected
        failed += other.failed
        disconnected += other.disconnected
        deliveries += other.deliveries
        unique += other.unique
        duplicates += other.duplicates
        stale += other.stale
        ensureTopics(max(other.uniqueByTopic.count, uniqueByTopic.count))
        for (topic, count) in other.uniqueByTopic.enumerated() { uniqueByTopic[topic] += count }
        for (topic, count) in other.subscribersByTopic.enumerated() { subscribersByTopic[topic] += count }
        latency.add(other.latency)
        if other.firstDelivery != 0 { firstDelivery = firstDelivery == 0 ? other.firstDelivery : min(firstDelivery, other.firstDelivery) }
        lastDelivery = max(lastDelivery, other.lastDelivery)
        connectSeconds = max(connectSeconds, other.connectSeconds)
        if firstError == nil { firstError = other.firstError }
    }
}

/// Shared by the subscribers on one event loop and touched only from that loop.
final class LoopTally: @unchecked Sendable {
    var tally = SubscriberTally()
    let notBefore: UInt64
    /// Set when the run ends, so closing our own connections is not counted as disconnects.
    var stopping = false

    init(notBefore: UInt64, topics: Int) {
        self.notBefore = notBefore
        tally.ensureTopics(topics)
    }

    /// One read's stamped payloads, `(t, isNew)`, all received at `now`.
    func record(_ payloads: [(t: UInt64, isNew: Bool)], topic: Int, now: UInt64) {
        // One access to `tally` for the whole read: per payload, each access to a class's
        // property is a dynamic exclusivity check, which at millions of payloads a second was
        // a tenth of the tool's time.
        tally.record(payloads, topic: topic, now: now, notBefore: notBefore)
    }
}

extension SubscriberTally {
    mutating func record(_ payloads: [(t: UInt64, isNew: Bool)], topic: Int, now: UInt64, notBefore: UInt64) {
        for (t, isNew) in payloads {
            if t < notBefore {
                stale += 1
                continue
            }
            deliveries += 1
            guard isNew else {
                duplicates += 1
                continue
            }
            unique += 1
            uniqueByTopic[topic] += 1
            latency.record(now > t ? (now - t) / 1000 : 0)
            if firstDelivery == 0 { firstDelivery = now }
            lastDelivery = now
        }
    }
}

/// The published side of a run.
public struct PublishResult: Codable, Sendable {
    public var sent = 0
    public var succeeded = 0
    public var failed = 0
    var consecutiveFailures = 0
    public var firstFailure: String?
    /// Successful publishes per topic: with subscribers per topic, the deliveries expected.
    public var succeededByTopic: [Int] = []
    /// Request latency in microseconds (for Eddy, the durable commit plus HTTP).
    public var latency = makeLatencyHistogram()
    public var started: UInt64 = 0
    public var finished: UInt64 = 0

    public var seconds: Double { Double(finished &- started) / 1e9 }
}

public struct LoadReport: Codable, Sendable {
    public var subscribers: SubscriberTally
    public var publish: PublishResult
    public var rssBeforeKiB: Int?
    public var rssConnectedKiB: Int?
    public var rssAfterKiB: Int?
    /// The server's CPU time from the first publish to the end of the drain.
    public var serverCPUSeconds: Double?
    /// The same by thread name (`ThreadCPU`): which of the server's threads spent it.
    public var serverCPUByThread: [String: Double]?
    /// The load tool's own CPU time (this process and its workers) over the same span: on a
    /// machine shared with the server, what the tool leaves the server is what it did not use.
    public var toolCPUSeconds: Double?

    public var expected: Int {
        zip(subscribers.subscribersByTopic, publish.succeededByTopic).reduce(0) { $0 + $1.0 * $1.1 }
    }
    public var lost: Int { max(0, expected - subscribers.unique) }
    public var connectRate: Double { subscribers.connectSeconds > 0 ? Double(subscribers.connected) / subscribers.connectSeconds : 0 }
    /// Deliveries over the span from the first publish to the last delivery.
    public var deliveriesPerSecond: Double {
        let end = max(subscribers.lastDelivery, publish.finished)
        guard subscribers.unique > 0, end > publish.started else { return 0 }
        return Double(subscribers.unique) / (Double(end - publish.started) / 1e9)
    }
    public func latencyMilliseconds(_ percentile: Double) -> Double {
        subscribers.latency.totalCount == 0 ? 0 : Double(subscribers.latency.valueAtPercentile(percentile)) / 1000
    }
    public var maxLatencyMilliseconds: Double { Double(subscribers.latency.max) / 1000 }
    public var rssPerConnectionKiB: Double? {
        guard let before = rssBeforeKiB, let connected = rssConnectedKiB, subscribers.connected > 0 else { return nil }
        return Double(connected - before) / Double(subscribers.connected)
    }

    /// The figures, one `key=value` per line, for scripts and people.
    public var summary: String {
        func f(_ value: Double) -> String { String(format: "%.2f", value) }
        var lines = [
            "subscribers_connected=\(subscribers.connected)", "subscribers_failed=\(subscribers.failed)",
            "disconnected=\(subscribers.disconnected)", "connect_per_s=\(f(connectRate))",
            "published_ok=\(publish.succeeded)", "published_failed=\(publish.failed)",
            "publish_per_s=\(f(publish.seconds > 0 ? Double(publish.succeeded) / publish.seconds : 0))",
            "publish_p50_ms=\(f(Double(publish.latency.valueAtPercentile(50)) / 1000))",
            "publish_p99_ms=\(f(Double(publish.latency.valueAtPercentile(99)) / 1000))",
            "deliveries=\(subscribers.unique)", "expected=\(expected)", "lost=\(lost)", "duplicates=\(subscribers.duplicates)",
            "stale=\(subscribers.stale)", "deliveries_per_s=\(f(deliveriesPerSecond))",
            "latency_p50_ms=\(f(latencyMilliseconds(50)))", "latency_p99_ms=\(f(latencyMilliseconds(99)))",
            "latency_p999_ms=\(f(latencyMilliseconds(99.9)))", "latency_max_ms=\(f(maxLatencyMilliseconds))",
        ]
        if let rssBeforeKiB { lines.append("rss_before_kib=\(rssBeforeKiB)") }
        if let rssConnectedKiB { lines.append("rss_connected_kib=\(rssConnectedKiB)") }
        if let rssAfterKiB { lines.append("rss_after_kib=\(rssAfterKiB)") }
        if let perConnection = rssPerConnectionKiB { lines.append("rss_per_connection_kib=\(f(perConnection))") }
        if let cpu = serverCPUSeconds {
            lines.append("server_cpu_s=\(f(cpu))")
            if publish.succeeded > 0 { lines.append("server_cpu_us_per_publish=\(f(cpu * 1e6 / Double(publish.succeeded)))") }
            if subscribers.unique > 0 { lines.append("server_cpu_ns_per_delivery=\(f(cpu * 1e9 / Double(subscribers.unique)))") }
        }
        if let byThread = serverCPUByThread, publish.succeeded > 0, !byThread.isEmpty {
            let parts = byThread.sorted { $0.value > $1.value }.map { "\($0.key):\(f($0.value * 1e6 / Double(publish.succeeded)))" }
            lines.append("server_cpu_us_per_publish_by_thread=\(parts.joined(separator: ","))")
        }
        if let cpu = toolCPUSeconds {
            lines.append("tool_cpu_s=\(f(cpu))")
            if publish.succeeded > 0 { lines.append("tool_cpu_us_per_publish=\(f(cpu * 1e6 / Double(publish.succeeded)))") }
            if subscribers.unique > 0 { lines.append("tool_cpu_ns_per_delivery=\(f(cpu * 1e9 / Double(subscribers.unique)))") }
        }
        if let error = subscribers.firstError { lines.append("first_subscriber_error=\(error)") }
        if let error = publish.firstFailure { lines.append("first_publish_failure=\(error)") }
        return lines.joined(separator: "\n")
    }
}
