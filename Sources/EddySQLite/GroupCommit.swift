import EddyCore
import GRDB
import Synchronization

/// Group commit: writes that arrive while a transaction is being made wait, then commit
/// together in the next one — one fsync for many writes. Each write still runs in its own
/// savepoint, so one failing write does not take the others with it, and none is
/// acknowledged before the transaction holding it has committed.
final class GroupCommit: Sendable {
    typealias Apply = @Sendable (Mutation, Database) throws -> CommitOutcome

    private struct Pending {
        let mutation: Mutation
        let continuation: CheckedContinuation<CommitOutcome, any Error>
    }

    private struct State {
        var queue: [Pending] = []
        var draining = false
    }

    private let pool: DatabasePool
    private let apply: Apply
    private let listener: @Sendable () -> (@Sendable ([ChangeEvent]) -> Void)?
    private let maximumBatch: Int
    private let state = Mutex(State())

    init(pool: DatabasePool, maximumBatch: Int = 256, apply: @escaping Apply, listener: @escaping @Sendable () -> (@Sendable ([ChangeEvent]) -> Void)?) {
        self.pool = pool
        self.apply = apply
        self.listener = listener
        self.maximumBatch = maximumBatch
    }

    func commit(_ mutation: Mutation) async throws -> CommitOutcome {
        try await withCheckedThrowingContinuation { continuation in
            let startDrain = state.withLock { state in
                state.queue.append(Pending(mutation: mutation, continuation: continuation))
                guard !state.draining else { return false }
                state.draining = true
                return true
            }
            if startDrain { Task { await self.drain() } }
        }
    }

    private func drain() async {
        while true {
            let batch: [Pending] = state.withLock { state in
                let taken = Array(state.queue.prefix(maximumBatch))
                state.queue.removeFirst(taken.count)
                if taken.isEmpty { state.draining = false }
                return taken
            }
            if batch.isEmpty { return }
            await write(batch)
        }
    }

    private func write(_ batch: [Pending]) async {
        let apply = self.apply
        let listener = self.listener()
        let mutations = batch.map(\.mutation)
        do {
            let results: [Result<CommitOutcome, any Error>] = try await pool.write { db in
                var results: [Result<CommitOutcome, any Error>] = []
                var events: [ChangeEvent] = []
                for mutation in mutations {
                    do {
                        var outcome: CommitOutcome?
                        try db.inSavepoint {
                            outcome = try apply(mutation, db)
                            return .commit
                        }
                        if case .committed(let event, _)? = outcome { events.append(event) }
                        results.append(.success(outcome!))
                    } catch {
                        results.append(.failure(error))
                    }
                }
                if !events.isEmpty, let listener {
                    let committed = events
                    db.afterNextTransaction(onCommit: { _ in listener(committed) })
                }
                return results
            }
            for (pending, result) in zip(batch, results) { pending.continuation.resume(with: result) }
        } catch {
            for pending in batch { pending.continuation.resume(throwing: error) }
        }
    }
}

/// Where committed events go; set once the hub exists.
final class CommitListener: Sendable {
    private let listener = Mutex<(@Sendable ([ChangeEvent]) -> Void)?>(nil)

    var current: (@Sendable ([ChangeEvent]) -> Void)? { listener.withLock { $0 } }

    func set(_ new: @escaping @Sendable ([ChangeEvent]) -> Void) {
        listener.withLock { $0 = new }
    }
}
