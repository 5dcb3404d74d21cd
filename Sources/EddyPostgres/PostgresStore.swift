import EddyCore
import Foundation
import Logging
import PostgresNIO

/// The cluster store: several Eddy nodes share one PostgreSQL database. Writes from every node
/// are serialized on the `log_state` row, so sequence order is commit order everywhere; each
/// node learns of new events through LISTEN/NOTIFY (the payload is only the sequence number)
/// and reads them from the log, in order, into its hub.
public final class PostgresStore: ResourceStore {
    public let epoch: String
    public let location: PostgresLocation
    /// This process's name among the nodes: lease holder, listener connection name.
    public let nodeID: String
    let client: PostgresClient
    let logger: Logger
    private let running: Task<Void, Never>
    private let writer: PostgresWriter
    private let follower: LogFollower
    let cache: ResourceCache
    private let barrier: HeadBarrier

    /// Connects, migrates the schema and starts following the log. `readCache` bounds the
    /// resources answered from memory (`ResourceCache`); `.disabled` reads every one from the
    /// database.
    public static func open(
        _ location: PostgresLocation, readCache: ResourceCache.Limits = .standard, logger: Logger
    ) async throws -> PostgresStore {
        // One plain connection first: a wrong address or password is reported at once, where
        // the pool would keep retrying for a minute before giving up.
        try await StoreAvailability.guarded {
            let probe = try await PostgresConnection.connect(
                configuration: try location.connectionConfiguration(applicationName: "eddy-start"), id: 0, logger: logger)
            try await probe.close()
        }
        // The pool warns when used in the moment before its run loop starts; only its errors matter here.
        var poolLogger = logger
        poolLogger.logLevel = max(logger.logLevel, .error)
        let client = PostgresClient(configuration: location.clientConfiguration, backgroundLogger: poolLogger)
        let running = Task { await client.run() }
        do {
            let epoch = try await StoreAvailability.guarded {
                try await PostgresSchema.migrate(client, schema: location.schema, freshEpoch: Self.makeEpoch(), logger: logger)
            }
            return try await PostgresStore(
                location: location, client: client, running: running, epoch: epoch, readCache: readCache, logger: logger)
        } catch {
            running.cancel()
            throw error
        }
    }

    private init(
        location: PostgresLocation, client: PostgresClient, running: Task<Void, Never>, epoch: String, readCache: ResourceCache.Limits,
        logger: Logger
    ) async throws {
        self.location = location
        self.client = client
        self.running = running
        self.epoch = epoch
        self.logger = logger
        nodeID = Self.makeEpoch()
        let channel = "eddy_log_" + location.schema
        let head = try await Self.head(client, logger: logger)
        cache = ResourceCache(limits: readCache)
        barrier = HeadBarrier { try await Self.head(client, logger: logger) }
        follower = LogFollower(
            client: client, location: location, channel: channel, nodeID: nodeID, epoch: epoch, startAfter: head, cache: cache,
            logger: logger)
        writer = PostgresWriter(client: client, channel: channel, epoch: epoch, follower: follower, logger: logger)
    }

    private static func makeEpoch() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(generator.next() & 0xFF_FFFF_FFFF, radix: 36)
    }

    public func setCommitListener(_ listener: @escaping @Sendable ([ChangeEvent]) -> Void) {
        follower.start(publishing: listener)
    }

    // MARK: Reads

    public func resource(at path: ResourcePath) async throws -> StoredResource? {
        try await StoreAvailability.guarded {
            var ticket: ResourceCache.Ticket?
            if cache.isEnabled {
                // Published first, looked up after: an entry found then was filled after every
                // commit up to the head had left the cache.
                let head = try await barrier.head()
                let caughtUp = follower.published >= head
                switch cache.lookup(path) {
                case .hit(let resource) where caughtUp: return resource
                case .hit: break
                case .miss(let missed): ticket = missed
                }
            }
            let rows = try await client.query(
                """
                SELECT path, value, version, created_seq, updated_at, created_at FROM resources
                WHERE path = \(path.description) AND value IS NOT NULL
                """, logger: logger
            ).collect()
            let found = try rows.first.map(resource)
            if let found, let ticket { cache.fill(found, ticket: ticket) }
            return found
        }
    }

    public func children(of collection: ResourcePath, limit: Int, descending: Bool) async throws -> [StoredResource] {
        try await StoreAvailability.guarded {
            let parent = collection.description
            let rows =
                descending
                ? try await client.query(
                    """
                    SELECT path, value, version, created_seq, updated_at, created_at FROM resources
                    WHERE parent = \(parent) AND value IS NOT NULL ORDER BY created_seq DESC LIMIT \(limit)
                    """, logger: logger
                ).collect()
                : try await client.query(
                    """
                    SELECT path, value, version, created_seq, updated_at, created_at FROM resources
                    WHERE parent = \(parent) AND value IS NOT NULL ORDER BY created_seq ASC LIMIT \(limit)
                    """, logger: logger
                ).collect()
            return try rows.map(resource)
        }
    }

    public func collectionExists(_ collection: ResourcePath) async throws -> Bool {
        try await StoreAvailability.guarded {
            if collection == .root { return true }
            let (low, high) = collection.subtreeRange
            let rows = try await client.query(
                "SELECT EXISTS(SELECT 1 FROM resources WHERE path > \(low) AND path < \(high))", logger: logger
            ).collect()
            return try rows.first?.decode(Bool.self) ?? false
        }
    }

    public func commit(_ mutation: Mutation) async throws -> CommitOutcome {
        try await writer.commit(mutation)
    }

    public func commit(all mutations: [Mutation]) async throws -> BatchOutcome {
        try await writer.commit(all: mutations)
    }

    public func timeline(of collection: ResourcePath, from: Int64, to: Int64, descending: Bool, limit: Int) async throws -> [StoredResource] {
        let parent = collection.description
        let rows =
            descending
            ? try await client.query(
                """
                SELECT path, value, version, created_seq, updated_at, created_at FROM resources
                WHERE parent = \(parent) AND value IS NOT NULL AND created_at >= \(from) AND created_at < \(to)
                ORDER BY created_at DESC, created_seq DESC LIMIT \(limit)
                """, logger: logger
            ).collect()
            : try await client.query(
                """
                SELECT path, value, version, created_seq, updated_at, created_at FROM resources
                WHERE parent = \(parent) AND value IS NOT NULL AND created_at >= \(from) AND created_at < \(to)
                ORDER BY created_at ASC, created_seq ASC LIMIT \(limit)
                """, logger: logger
            ).collect()
        return try rows.map(resource)
    }

    public func timelineNeighbour(of collection: ResourcePath, before: Int64?, atOrAfter: Int64?) async throws -> Int64? {
        let parent = collection.description
        let rows: [PostgresRow]
        if let before {
            rows = try await client.query(
                "SELECT MAX(created_at) FROM resources WHERE parent = \(parent) AND value IS NOT NULL AND created_at < \(before)",
                logger: logger
            ).collect()
        } else {
            rows = try await client.query(
                "SELECT MIN(created_at) FROM resources WHERE parent = \(parent) AND value IS NOT NULL AND created_at >= \(atOrAfter ?? Int64.min)",
                logger: logger
            ).collect()
        }
        return try rows.first?.decode(Int64?.self) ?? nil
    }

    public func events(after sequence: SequenceNumber, matching filter: SubscriptionFilter?, limit: Int) async throws -> [ChangeEvent] {
        try await StoreAvailability.guarded {
            let (head, floor) = try await Self.logState(client, logger: logger)
            if sequence < floor { throw StoreError.historyTruncated(requested: sequence, floor: floor) }
            if sequence > head { throw StoreError.positionFromTheFuture(requested: sequence, head: head) }
            return try await Self.events(client, after: sequence, matching: filter, limit: limit, epoch: epoch, logger: logger)
        }
    }

    static func events(
        _ client: PostgresClient, after sequence: SequenceNumber, matching filter: SubscriptionFilter?, limit: Int, epoch: String, logger: Logger
    ) async throws -> [ChangeEvent] {
        let after = Int64(sequence)
        let rows: PostgresRowSequence
        switch filter {
        case nil:
            rows = try await client.query(
                "SELECT seq, path, kind, time, value FROM events WHERE seq > \(after) ORDER BY seq LIMIT \(limit)", logger: logger)
        case .subtree(let prefix) where prefix == .root:
            rows = try await client.query(
                "SELECT seq, path, kind, time, value FROM events WHERE seq > \(after) ORDER BY seq LIMIT \(limit)", logger: logger)
        case .value(let path):
            rows = try await client.query(
                """
                SELECT seq, path, kind, time, value FROM events WHERE seq > \(after) AND path = \(path.description)
                ORDER BY seq LIMIT \(limit)
                """, logger: logger)
        case .children(let collection):
            rows = try await client.query(
                """
                SELECT seq, path, kind, time, value FROM events WHERE seq > \(after) AND parent = \(collection.description)
                ORDER BY seq LIMIT \(limit)
                """, logger: logger)
        case .subtree(let prefix):
            let (low, high) = prefix.subtreeRange
            rows = try await client.query(
                """
                SELECT seq, path, kind, time, value FROM events WHERE seq > \(after) AND path > \(low) AND path < \(high)
                ORDER BY seq LIMIT \(limit)
                """, logger: logger)
        }
        var events: [ChangeEvent] = []
        for try await (seq, path, kind, time, value) in rows.decode((Int64, String, Int, Int64, String?).self) {
            guard let changeKind = ChangeKind(rawValue: kind) else { throw PostgresStoreError("unknown change kind in event \(seq)") }
            let sequence = UInt64(seq)
            events.append(
                ChangeEvent(
                    sequence: sequence, path: try ResourcePath(decoded: path), kind: changeKind, etag: ETag(epoch: epoch, version: sequence),
                    timestamp: time, logged: value))
        }
        return events
    }

    public func headSequence() async throws -> SequenceNumber {
        try await StoreAvailability.guarded {
            try await Self.head(client, logger: logger)
        }
    }

    public func retainedFloor() async throws -> SequenceNumber {
        try await StoreAvailability.guarded {
            try await Self.logState(client, logger: logger).floor
        }
    }

    static func head(_ client: PostgresClient, logger: Logger) async throws -> SequenceNumber {
        try await logState(client, logger: logger).head
    }

    static func logState(_ client: PostgresClient, logger: Logger) async throws -> (head: SequenceNumber, floor: SequenceNumber) {
        let rows = try await client.query("SELECT head, floor FROM log_state WHERE id = 1", logger: logger).collect()
        guard let (head, floor) = try rows.first?.decode((Int64, Int64).self) else { throw PostgresStoreError("log_state is empty") }
        return (UInt64(head), UInt64(floor))
    }

    public func applyRetention(_ policy: RetentionPolicy, now: Int64) async throws -> Int {
        let logger = self.logger
        return try await client.withTransaction(logger: logger) { connection in
            // The same lock writers take: the floor and the head move one at a time.
            let state = try await connection.query("SELECT head, floor FROM log_state WHERE id = 1 FOR UPDATE", logger: logger).collect()
            guard let (head, floor) = try state.first?.decode((Int64, Int64).self) else { return 0 }
            let byCount = max(0, head - Int64(policy.maximumEvents))
            let cutoff = now - Int64(policy.maximumAgeSeconds) * 1000
            let aged = try await connection.query("SELECT MAX(seq) FROM events WHERE time < \(cutoff)", logger: logger).collect()
            let byAge = try aged.first?.decode(Int64?.self) ?? nil
            let newFloor = max(byCount, byAge ?? 0)
            guard newFloor > floor else { return 0 }
            let deleted = try await connection.query(
                "WITH gone AS (DELETE FROM events WHERE seq <= \(newFloor) RETURNING 1) SELECT count(*) FROM gone", logger: logger
            ).collect()
            try await connection.query("DELETE FROM resources WHERE value IS NULL AND version <= \(newFloor)", logger: logger)
            try await connection.query("UPDATE log_state SET floor = \(newFloor) WHERE id = 1", logger: logger)
            return Int(try deleted.first?.decode(Int64.self) ?? 0)
        }
    }

    public func close() async throws {
        await follower.stop()
        running.cancel()
    }

    private func resource(_ row: PostgresRow) throws -> StoredResource {
        let (path, value, version, createdSeq, updatedAt, createdAt) = try row.decode((String, String, Int64, Int64, Int64, Int64).self)
        return StoredResource(
            path: try ResourcePath(decoded: path), value: value, etag: ETag(epoch: epoch, version: UInt64(version)), version: UInt64(version),
            createdSequence: UInt64(createdSeq), updatedAt: updatedAt, createdAt: createdAt)
    }
}
