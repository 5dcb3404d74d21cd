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

    @Test func aWriteOfSeveralEntriesCostsOneTokenEach() {
        let now = ManualClock()
        let limiter = RateLimiter(ratePerSecond: 1, burst: 10, clock: { now.value })
        #expect(limiter.take("a", cost: 6).allowed)
        let refused = limiter.take("a", cost: 6)
        #expect(!refused.allowed)
        #expect(abs(refused.retryAfter - 2) < 0.001)
        #expect(limiter.take("a", cost: 4).allowed)
        #expect(!limiter.take("a").allowed)
        // More than the burst is possible from a full bucket, and then paid back.
        now.advance(10)
        #expect(limiter.take("a", cost: 15).allowed)
        now.advance(4)
        #expect(!limiter.take("a").allowed)
        now.advance(2)
        #expect(limiter.take("a").allowed)
    }

    @Test func subjectsAreKeptApartByTheirBytes() {
        let limiter = RateLimiter(ratePerSecond: 0.001, burst: 1)
        #expect(limiter.take("sub:Kevin").allowed)
        #expect(limiter.take("sub:\u{212A}evin").allowed)
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
