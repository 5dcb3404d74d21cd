import Foundation
import Histogram

public enum SubscriberKind: String, Codable, Sendable, CaseIterable {
    case sse
    case ws
    case longpoll
}

/// Who subscribes, how, and from where. Templates may use `{topic}`; subscriber `i` watches
/// topic `i % topics`, so many-topic runs spread subscribers evenly.
public struct SubscriberSpec: Codable, Sendable {
    public var kind: SubscriberKind
    /// `http://host:port/path` (or `ws://…` for WebSocket).
    public var urlTemplate: String
    /// Extra request header lines, `Name: value`.
    public var headers: [String] = []
    public var webSocketProtocol: String?
    /// A text message sent after the upgrade (Eddy's multiplex subscribe). When set, the
    /// subscriber counts as connected only once the server has answered it.
    public var webSocketSubscribe: String?
    public var count: Int
    public var topics: Int = 1
    /// Local addresses to bind, used round-robin, so per-address limits and ephemeral ports last.
    public var sources: [String] = []
    /// Connection attempts in flight at once, per worker: a listen backlog overflows otherwise.
    public var connectConcurrency: Int = 200
    /// Seconds to wait for all subscribers to connect before giving up on the stragglers.
    public var connectTimeout: Double = 60

    public init(kind: SubscriberKind, urlTemplate: String, count: Int) {
        self.kind = kind
        self.urlTemplate = urlTemplate
        self.count = count
    }

    public func topic(of index: Int) -> Int { index % max(topics, 1) }
}

/// The publishing side: `{t}` (ns since epoch at send time), `{n}` (0-based counter) and
/// `{topic}` (`n % topics`) are substituted in the URL and body.
public struct PublishSpec: Codable, Sendable {
    public var method: String = "PUT"
    public var urlTemplate: String
    public var headers: [String] = ["Content-Type: application/json"]
    public var bodyTemplate: String = "{\"t\":{t},\"n\":{n}}"
    public var count: Int
    /// Requests per second; 0 sends as fast as `concurrency` writers can.
    public var rate: Double
    public var concurrency: Int = 8
    public var topics: Int = 1

    public init(urlTemplate: String, count: Int, rate: Double) {
        self.urlTemplate = urlTemplate
        self.count = count
        self.rate = rate
    }
}

public struct LoadSpec: Codable, Sendable {
    public var subscribers: SubscriberSpec
    public var publish: PublishSpec
    /// Worker processes holding the subscribers; 0 keeps them in this process.
    public var workers: Int = 0
    /// Event-loop threads per process holding subscribers.
    public var loops: Int = 1
    /// Seconds between the last subscriber connecting and the first publish.
    public var settle: Double = 1
    /// Seconds to keep listening after the last publish answered.
    public var drain: Double = 3
    /// Seconds to hold the connections open with nothing published (idle runs).
    public var hold: Double = 0
    /// Processes whose VmRSS is summed before and after (the server under test).
    public var serverPIDs: [Int32] = []

    public init(subscribers: SubscriberSpec, publish: PublishSpec) {
        self.subscribers = subscribers
        self.publish = publish
    }
}

func makeLatencyHistogram() -> Histogram<UInt64> {
    // Microseconds, up to 10 minutes: a saturated server's backlog can take long to drain.
    Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
}

func nowNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// A subscriber's URL or first message for its topic, once per connection (publishes fill
/// theirs with `RequestTemplate`).
func fill(_ template: String, topic: Int) -> String {
    template.replacingOccurrences(of: "{topic}", with: String(topic))
}
