import EddyCore
import Foundation
import Synchronization

/// What the live page's status panel shows: subscriptions by protocol and transport, open
/// connections, the log's head and how fast it moves. One sampler serves every status stream
/// and reads the store at most once per `interval`, however many pages watch.
final class StatusSampler: Sendable {
    struct Sample: Sendable {
        let head: SequenceNumber
        let eventsPerSecond: Double
        let openConnections: Int
        let subscriptions: [String: Int]
        let taken: ContinuousClock.Instant

        var json: String {
            let members = subscriptions.sorted { Array($0.key.utf8).lexicographicallyPrecedes($1.key.utf8) }
                .map { JSONValue.quoted($0.key) + ":" + String($0.value) }
            let rate = (eventsPerSecond * 10).rounded() / 10
            return "{\"head\":\(head),\"eventsPerSecond\":\(rate),\"openConnections\":\(openConnections),"
                + "\"connections\":{" + members.joined(separator: ",") + "}}"
        }
    }

    static let interval = Duration.seconds(1)

    private let store: any ResourceStore
    private let openConnections: @Sendable () -> Int
    private let subscriptions: @Sendable () -> [String: Int]
    private let clock = ContinuousClock()
    private let last = Mutex<Sample?>(nil)

    init(store: any ResourceStore, openConnections: @escaping @Sendable () -> Int, subscriptions: @escaping @Sendable () -> [String: Int]) {
        self.store = store
        self.openConnections = openConnections
        self.subscriptions = subscriptions
    }

    /// The latest sample, taken anew when the last one is older than `interval`. A store that
    /// cannot be read throws, and the stream ends; the page reconnects.
    func sample() async throws -> Sample {
        let now = clock.now
        if let recent = last.withLock({ $0 }), now - recent.taken < Self.interval * 0.9 { return recent }
        let head = try await store.headSequence()
        return last.withLock { previous in
            if let previous, now - previous.taken < Self.interval * 0.9 { return previous }
            var rate = 0.0
            if let previous, head >= previous.head {
                let seconds = Double((now - previous.taken).components.seconds)
                    + Double((now - previous.taken).components.attoseconds) / 1e18
                if seconds > 0 { rate = Double(head - previous.head) / seconds }
            }
            let sample = Sample(
                head: head, eventsPerSecond: rate, openConnections: openConnections(), subscriptions: subscriptions(), taken: now)
            previous = sample
            return sample
        }
    }
}
