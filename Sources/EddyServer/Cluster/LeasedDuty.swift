import EddyCore
import Logging
import Synchronization

/// Work that must happen on one node at a time — webhook deliveries — runs only while this node
/// holds the work's lease in the store. The lease is renewed at a third of its lifetime; when a
/// renewal fails the work is cancelled at once, and whoever takes the lease next resumes from
/// the cursors saved in the store (at-least-once: a delivery in flight may be made again).
struct LeasedDuty: Sendable {
    let store: any ResourceStore
    let name: String
    let holder: String
    let seconds: Double
    let logger: Logger

    /// Until cancelled: waits for the lease, then runs `work` for as long as it is held.
    func run(_ work: @escaping @Sendable () async -> Void) async {
        while !Task.isCancelled {
            guard await take() else {
                try? await Task.sleep(for: .seconds(seconds / 3))
                continue
            }
            logger.info("lease taken; this node does the work", metadata: ["lease": "\(name)", "node": "\(holder)"])
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await work() }
                group.addTask { await keep() }
                await group.next()
                group.cancelAll()
            }
        }
        // Released outside the cancelled task, whose queries would be refused.
        let (store, name, holder) = (self.store, self.name, self.holder)
        await Task { try? await store.releaseLease(name, holder: holder) }.value
    }

    private func take() async -> Bool {
        do {
            return try await store.acquireLease(name, holder: holder, seconds: seconds)
        } catch {
            if Task.isCancelled { return false }
            logger.error("could not reach the store for a lease", metadata: ["lease": "\(name)", "error": "\(error)"])
            return false
        }
    }

    /// Returns when the lease is lost (or the duty is cancelled).
    private func keep() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(seconds / 3))
            if Task.isCancelled { return }
            guard await take() else {
                logger.warning("lease lost; stopping its work", metadata: ["lease": "\(name)"])
                return
            }
        }
    }
}

/// The set of registrations a lease holder serves, kept equal to what the store holds: other
/// nodes add and remove registrations too, so the holder re-reads them on a short tick and
/// whenever this node changed one.
final class RegistrationSync: Sendable {
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private let held = Mutex(false)
    let intervalSeconds: Double

    init(intervalSeconds: Double = 1) {
        self.intervalSeconds = intervalSeconds
        (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Whether this node holds the lease right now.
    var isHeld: Bool { held.withLock { $0 } }

    /// Asks the holder to re-read the registrations now.
    func poke() { wake.yield() }

    /// Runs `reconcile` now, after every poke and every interval, until cancelled; `stopAll` last.
    func serve(reconcile: @Sendable () async -> Void, stopAll: @Sendable () async -> Void) async {
        held.withLock { $0 = true }
        let interval = intervalSeconds
        let wake = self.wake
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(interval))
                wake.yield()
            }
        }
        var iterator = wakeups.makeAsyncIterator()
        while !Task.isCancelled {
            await reconcile()
            // `next()` returns when poked or ticked, and nil only after cancellation ends the wait.
            guard await withTaskCancellationHandler(operation: { await iterator.next() }, onCancel: { wake.yield() }) != nil else { break }
        }
        ticker.cancel()
        held.withLock { $0 = false }
        await stopAll()
    }
}
