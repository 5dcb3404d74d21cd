import EddyCore
import Foundation
import Synchronization

/// Token buckets by key (a subject, or a client address for anonymous callers): each key may
/// spend `ratePerSecond` on average with bursts up to `burst`. The table is bounded; when it
/// is full, idle buckets (which would be full again) are forgotten first.
public final class RateLimiter: Sendable {
    public struct Decision: Equatable, Sendable {
        public let allowed: Bool
        /// Seconds until one token is available again (when refused).
        public let retryAfter: Double
    }

    private struct Bucket {
        var tokens: Double
        var updated: Double
    }

    private let ratePerSecond: Double
    private let burst: Double
    private let maximumKeys: Int
    /// By the key's bytes: a subject spelled with a Kelvin sign must not spend Kevin's tokens.
    private let buckets = Mutex<[ByteIdentity: Bucket]>([:])
    private let clock: @Sendable () -> Double

    public init(ratePerSecond: Double, burst: Double, maximumKeys: Int = 100_000, clock: @escaping @Sendable () -> Double = {
        Double(DispatchTime.now().uptimeNanoseconds) / 1e9
    }) {
        self.ratePerSecond = ratePerSecond
        self.burst = max(1, burst)
        self.maximumKeys = maximumKeys
        self.clock = clock
    }

    /// How many keys the table holds now.
    public var trackedKeys: Int { buckets.withLock { $0.count } }

    public func take(_ key: String) -> Decision {
        take(key, cost: 1)
    }

    /// Spends `cost` tokens at once (a write of several entries). A cost above the burst is
    /// allowed from a full bucket and leaves it in debt, so a large but bounded write is slow
    /// to repeat rather than impossible.
    public func take(_ key: String, cost: Int) -> Decision {
        let cost = Double(max(1, cost))
        let needed = min(cost, burst)
        let now = clock()
        let key = ByteIdentity(key)
        return buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: burst, updated: now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * ratePerSecond)
            bucket.updated = now
            defer {
                if buckets.count >= maximumKeys, buckets[key] == nil { evictIdle(&buckets, now: now) }
                buckets[key] = bucket
            }
            if bucket.tokens >= needed {
                bucket.tokens -= cost
                return Decision(allowed: true, retryAfter: 0)
            }
            return Decision(allowed: false, retryAfter: (needed - bucket.tokens) / ratePerSecond)
        }
    }

    private func evictIdle(_ buckets: inout [ByteIdentity: Bucket], now: Double) {
        let refillTime = burst / ratePerSecond
        buckets = buckets.filter { now - $0.value.updated < refillTime }
        if buckets.count >= maximumKeys {
            // Everyone is active: forget the oldest half rather than grow.
            let keep = buckets.sorted { $0.value.updated > $1.value.updated }.prefix(maximumKeys / 2)
            buckets = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
        }
    }
}
