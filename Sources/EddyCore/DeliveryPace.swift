import Foundation

/// For how long and how often a subscription delivers (Solid's `startAt`, `endAt` and `rate`).
/// The hub ends a subscription at `endAt` (`HubDropReason.ended`); `RateGate` is the rate rule
/// every channel type applies to what it would send.
public struct DeliveryPace: Sendable, Equatable {
    public var startAt: Date?
    public var endAt: Date?
    /// At most one delivery per this period; nil or zero for no limit.
    public var minimumInterval: Duration?

    public static let unpaced = DeliveryPace()

    public init(startAt: Date? = nil, endAt: Date? = nil, minimumInterval: Duration? = nil) {
        self.startAt = startAt
        self.endAt = endAt
        self.minimumInterval = minimumInterval
    }

    public func hasEnded(at now: Date) -> Bool {
        endAt.map { now >= $0 } ?? false
    }

    /// Whether an event at `now` may be delivered: after `startAt` and before `endAt`.
    public func isOpen(at now: Date) -> Bool {
        !hasEnded(at: now) && (startAt.map { now >= $0 } ?? true)
    }
}

/// The rate rule, with the clock passed in: at most one delivery per `interval`. What comes
/// inside a period is held, the newest replacing the older, and delivered when the period ends,
/// so the receiver always ends up with the latest state, never a stale one.
public struct RateGate<Item: Sendable>: Sendable {
    public enum Action: Sendable {
        /// Deliver this now.
        case deliver(Item)
        /// Held; call `due(now:)` at this instant (no other call is scheduled meanwhile).
        case flush(at: ContinuousClock.Instant)
        /// Held, replacing what was held; a flush is already due.
        case held
    }

    public let interval: Duration?
    private var lastDelivered: ContinuousClock.Instant?
    private var pending: Item?
    private var flushDue: ContinuousClock.Instant?

    public init(interval: Duration?) {
        self.interval = interval
    }

    public mutating func offer(_ item: Item, now: ContinuousClock.Instant) -> Action {
        guard let interval, interval > .zero else { return .deliver(item) }
        if flushDue != nil {
            pending = item
            return .held
        }
        if let last = lastDelivered, now - last < interval {
            pending = item
            let due = last + interval
            flushDue = due
            return .flush(at: due)
        }
        lastDelivered = now
        return .deliver(item)
    }

    /// At the flush instant: the held item to deliver now, if any.
    public mutating func due(now: ContinuousClock.Instant) -> Item? {
        flushDue = nil
        guard let item = pending else { return nil }
        pending = nil
        lastDelivered = now
        return item
    }
}
