import EddyCore
import Foundation
import Logging
import PostgresNIO

/// Group commit for the cluster store: writes that queue up while a transaction runs commit
/// together in the next one. Each transaction first locks the `log_state` row, so transactions
/// from all nodes commit one after another and sequence numbers become visible in order: a
/// reader that sees event N has already been able to see every event before it.
final class PostgresWriter: Sendable {
    private let queue: BatchQueue<Mutation, CommitOutcome>
    private let client: PostgresClient
    private let channel: String
    private let epoch: String
    private let follower: LogFollower
    private let logger: Logger

    init(client: PostgresClient, channel: String, epoch: String, follower: LogFollower, logger: Logger, maximumBatch: Int = 256) {
        self.client = client
        self.channel = channel
        self.epoch = epoch
        self.follower = follower
        self.logger = logger
        queue = BatchQueue(maximumBatch: maximumBatch) { mutations in
            do {
                let (results, head) = try await client.withTransaction(logger: logger) { connection in
                    try await Self.apply(mutations, on: connection, epoch: epoch, channel: channel, logger: logger)
                }
                // Acknowledge once this node's hub has the events: a client that wrote and then
                // subscribes here sees its own write in order, as with the embedded store.
                await follower.waitUntilPublished(head)
                return results
            } catch {
                logger.error("write transaction failed", metadata: ["error": "\(String(reflecting: error))", "writes": "\(mutations.count)"])
                let answer = StoreAvailability.classify(error)
                return mutations.map { _ in .failure(answer) }
            }
        }
    }

    func commit(_ mutation: Mutation) async throws -> CommitOutcome {
        try await queue.submit(mutation)
    }

    /// An all-or-nothing batch in a transaction of its own: the first refusal or failure rolls
    /// every write of it back (and its NOTIFY with them).
    func commit(all mutations: [Mutation]) async throws -> BatchOutcome {
        let (epoch, channel, logger) = (self.epoch, self.channel, self.logger)
        do {
            let (outcomes, head) = try await client.withTransaction(logger: logger) { connection in
                let (results, head) = try await Self.apply(mutations, on: connection, epoch: epoch, channel: channel, logger: logger)
                var outcomes: [CommitOutcome] = []
                for (index, result) in results.enumerated() {
                    let outcome = try result.get()
                    guard case .committed = outcome else { throw BatchRefusal(index: index, outcome: outcome) }
                    outcomes.append(outcome)
                }
                return (outcomes, head)
            }
            await follower.waitUntilPublished(head)
            return .committed(outcomes)
        } catch let failure as PostgresTransactionError {
            if let refusal = failure.closureError as? BatchRefusal, failure.rollbackError == nil {
                return .refused(index: refusal.index, outcome: refusal.outcome)
            }
            throw StoreAvailability.classify(failure)
        } catch {
            throw StoreAvailability.classify(error)
        }
    }

    /// Runs inside the transaction. A write refused by its own content (a failed precondition,
    /// a bad patch) answers only that write; a database error fails the transaction.
    private static func apply(
        _ mutations: [Mutation], on connection: PostgresConnection, epoch: String, channel: String, logger: Logger
    ) async throws -> ([Result<CommitOutcome, any Error>], SequenceNumber) {
        let locked = try await connection.query("SELECT head FROM log_state WHERE id = 1 FOR UPDATE", logger: logger).collect()
        guard let start = try locked.first?.decode(Int64.self) else { throw PostgresStoreError("log_state is empty") }
        var head = UInt64(start)
        var results: [Result<CommitOutcome, any Error>] = []
        for mutation in mutations {
            let sequence = head + 1
            let path: ResourcePath
            do {
                path = try mutation.targetPath(nextSequence: sequence)
            } catch {
                results.append(.failure(error))
                continue
            }
            let rows = try await connection.query(
                "SELECT value, version, created_seq, created_at FROM resources WHERE path = \(path.description)", logger: logger
            ).collect()
            let current = try rows.first.map { row in
                let (value, version, createdSeq, createdAt) = try row.decode((String?, Int64, Int64, Int64).self)
                return StoredRow(value: value, version: UInt64(version), createdSequence: UInt64(createdSeq), createdAt: createdAt)
            }
            let plan: MutationPlan
            do {
                plan = try mutation.plan(
                    target: path, current: current, sequence: sequence, now: Int64(Date().timeIntervalSince1970 * 1000), epoch: epoch)
            } catch {
                results.append(.failure(error))
                continue
            }
            switch plan {
            case .refuse(let outcome):
                results.append(.success(outcome))
            case .write(let write):
                try await insert(write, on: connection, logger: logger)
                head = sequence
                results.append(.success(write.outcome(epoch: epoch)))
            }
        }
        if head > UInt64(start) {
            // NOTIFY is delivered at commit, and only if the transaction commits.
            try await connection.query(
                "WITH moved AS (UPDATE log_state SET head = \(Int64(head)) WHERE id = 1) SELECT pg_notify(\(channel), \(String(head)))",
                logger: logger)
        }
        return (results, head)
    }

    private static func insert(_ write: MutationPlan.Write, on connection: PostgresConnection, logger: Logger) async throws {
        let sequence = Int64(write.sequence)
        let path = write.path.description
        let parent = write.path.parent?.description ?? ""
        try await connection.query(
            """
            WITH logged AS (
                INSERT INTO events(seq, path, parent, kind, time, value)
                VALUES (\(sequence), \(path), \(parent), \(write.kind.rawValue), \(write.time), \(write.loggedValue))
            )
            INSERT INTO resources(path, parent, value, version, created_seq, updated_at, created_at)
            VALUES (\(path), \(parent), \(write.value), \(sequence), \(Int64(write.createdSequence)), \(write.time), \(write.createdAt))
            ON CONFLICT (path) DO UPDATE SET value = excluded.value, version = excluded.version,
                created_seq = excluded.created_seq, updated_at = excluded.updated_at, created_at = excluded.created_at
            """, logger: logger)
    }
}
