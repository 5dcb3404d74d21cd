import Dispatch
import Synchronization

/// Hands committed events to the hub from a thread of its own, in commit order. The store's
/// writer then goes on with its next transaction instead of waiting for the fan-out, and
/// batches that commit while a fan-out runs are delivered together, so subscribers get them
/// in one write. Events still reach the hub only after they committed.
public final class PublishQueue: Sendable {
    private struct Pending {
        var events: [ChangeEvent] = []
        var draining = false
    }

    private let hub: Hub
    /// Wraps each hub publish: the transport's chance to gather what one publish sends.
    private let around: @Sendable (() -> Void) -> Void
    private let queue = DispatchQueue(label: "eddy.publish")
    private let pending = Mutex(Pending())

    public init(hub: Hub, around: @escaping @Sendable (() -> Void) -> Void = { $0() }) {
        self.hub = hub
        self.around = around
    }

    public func enqueue(_ events: [ChangeEvent]) {
        guard !events.isEmpty else { return }
        let start = pending.withLock { pending -> Bool in
            pending.events.append(contentsOf: events)
            guard !pending.draining else { return false }
            pending.draining = true
            return true
        }
        if start { queue.async { self.drain() } }
    }

    private func drain() {
        while true {
            let batch = pending.withLock { pending -> [ChangeEvent] in
                if pending.events.isEmpty { pending.draining = false }
                defer { pending.events = [] }
                return pending.events
            }
            guard !batch.isEmpty else { return }
            around { hub.publish(batch) }
        }
    }
}
