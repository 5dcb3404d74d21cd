import EddyCore
import GRDB
import Synchronization

/// Group commit: writes that arrive while a transaction is being made wait, then commit
/// together in the next one — one fsync for many writes. Each write still runs in its own
/// savepoint, so one failing write does not take the others with it, and none is
/// acknowledged before the transaction holding it has committed.
final class GroupCommit: Sendable {
    typealias Apply = @Sendable (Mutation, Database) throws -> CommitOutcome

    private let queue: BatchQueue<Mutation, CommitOutcome>

    init(
        pool: DatabasePool, cache: ResourceCache, maximumBatch: Int = 256, apply: @escaping Apply,
        listener: @escaping @Sendable () -> (@Sendable ([ChangeEvent]) -> Void)?
    ) {
        // GRDB's synchronous write runs on the calling thread when its writer is free: the
        // queue's own thread then makes the transaction, and no hop to GRDB's thread and back
        // comes between a submitter and its commit.
        queue = BatchQueue(maximumBatch: maximumBatch, label: "eddy.group-commit") { mutations in
            let paths = mutations.map { $0.path }
            cache.beginWriting(paths)
            let results = Self.write(mutations, pool: pool, apply: apply, listener: listener())
            cache.endWriting(paths, committed: results.compactMap { result in
                if case .success(.committed(let event, _)) = result { event.path } else { nil }
            })
            return results
        }
    }

    func commit(_ mutation: Mutation) async throws -> CommitOutcome {
        try await queue.submit(mutation)
    }

    private static func write(
        _ mutations: [Mutation], pool: DatabasePool, apply: Apply, listener: (@Sendable ([ChangeEvent]) -> Void)?
    ) -> [Result<CommitOutcome, any Error>] {
        do {
            return try pool.writeWithoutTransaction { db in
                try inTransaction(db) {
                    try writeBatch(mutations, in: db, apply: apply, listener: listener)
                }
            }
        } catch {
            return mutations.map { _ in .failure(error) }
        }
    }

    /// `body` in an immediate transaction, committed if it returns and rolled back if it throws.
    /// As GRDB's `write` does, but with cached statements: GRDB prepares `BEGIN` and `COMMIT`
    /// anew for every transaction, which cost a lone write about 4 % of its instructions.
    private static func inTransaction<T>(_ db: Database, _ body: () throws -> T) throws -> T {
        try db.cachedStatement(sql: "BEGIN IMMEDIATE TRANSACTION").execute()
        do {
            let result = try body()
            try db.cachedStatement(sql: "COMMIT TRANSACTION").execute()
            return result
        } catch {
            // A failed COMMIT may have ended the transaction already (SQLite rolls back on some errors).
            if db.isInsideTransaction { try? db.execute(sql: "ROLLBACK TRANSACTION") }
            throw error
        }
    }

    private static func writeBatch(
        _ mutations: [Mutation], in db: Database, apply: Apply, listener: (@Sendable ([ChangeEvent]) -> Void)?
    ) throws -> [Result<CommitOutcome, any Error>] {
        var results: [Result<CommitOutcome, any Error>] = []
        var events: [ChangeEvent] = []
        // Cached, unlike `inSavepoint`'s, which prepared both statements anew for every
        // write: 2.6 % of a write's CPU. If one of these fails, the whole batch fails.
        let savepoint = try db.cachedStatement(sql: "SAVEPOINT eddy_write")
        let release = try db.cachedStatement(sql: "RELEASE SAVEPOINT eddy_write")
        let rollback = try db.cachedStatement(sql: "ROLLBACK TO SAVEPOINT eddy_write")
        for mutation in mutations {
            try savepoint.execute()
            let outcome: CommitOutcome
            do {
                outcome = try apply(mutation, db)
            } catch {
                try rollback.execute()
                try release.execute()
                results.append(.failure(error))
                continue
            }
            try release.execute()
            if case .committed(let event, _) = outcome { events.append(event) }
            results.append(.success(outcome))
        }
        if !events.isEmpty, let listener {
            let committed = events
            db.afterNextTransaction(onCommit: { _ in listener(committed) })
        }
        return results
    }
}

/// Where committed events go; set once the hub exists.
///
/// The function is held in a class, not in the mutex itself: a function value read out of a
/// generic container through `inout` comes back wrapped in a pair of reabstraction thunks and
/// is stored back wrapped. Read once per commit, the stored function grew by two frames per
/// commit, so each publish cost more than the last, until the stack ran out.
final class CommitListener: Sendable {
    private final class Box: Sendable {
        let call: @Sendable ([ChangeEvent]) -> Void
        init(_ call: @escaping @Sendable ([ChangeEvent]) -> Void) { self.call = call }
    }

    private let listener = Mutex<Box?>(nil)

    var current: (@Sendable ([ChangeEvent]) -> Void)? { listener.withLock { $0 }?.call }

    func set(_ new: @escaping @Sendable ([ChangeEvent]) -> Void) {
        listener.withLock { $0 = Box(new) }
    }
}
