import Synchronization
import Testing

@testable import EddyServer

@Suite struct RateLimiterTests {
    @Test func refillsAtTheConfiguredRate() {
        let now = ManualClock()
        let limiter = RateLimiter(ratePerSecond: 2, burst: 3, clock: { now.value })
        #expect((0..<3).allSatisfy { _ in limiter.take("a").allowed })
        let refused = limiter.take("a")
        #expect(!refused.allowed)
        #expect(abs(refused.retryAfter - 0.5) < 0.001)
        #expect(limiter.take("b").allowed)
        now.advance(0.5)
        #expect(limiter.take("a").allowed)
        #expect(!limiter.take("a").allowed)
    }

    @Test func tableStaysBounded() {
        let now = ManualClock()
        let limiter = RateLimiter(ratePerSecond: 1, burst: 1, maximumKeys: 10, clock: { now.value })
        for index in 0..<1000 {
            _ = limiter.take("k\(index)")
            now.advance(0.001)
        }
        #expect(limiter.trackedKeys <= 10)
        // Recent keys are the ones kept: this one is still throttled.
        #expect(!limiter.take("k999").allowed)
    }
}

final class ManualClock: Sendable {
    private let now = Mutex(1000.0)
    var value: Double { now.withLock { $0 } }
    func advance(_ seconds: Double) { now.withLock { $0 += seconds } }
}
