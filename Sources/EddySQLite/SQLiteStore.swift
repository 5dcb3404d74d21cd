import EddyCore
import Foundation
import GRDB
import Logging
import Synchronization

/// The embedded store: one SQLite file in WAL mode. All writes go through GRDB's single
/// writer, so commit order is sequence order, and the commit listener is called on the
/// writer's queue right after each commit, before the next write starts.
public final class SQLiteStore: ResourceStore {
    public struct Configuration: Sendable {
        /// `FULL` fsyncs the WAL on every commit (survives power loss); `NORMAL` survives a
        /// process crash but may lose the newest commits on power loss.
        public var synchronous: Synchronous
        public var busyTimeoutSeconds: Double
        /// What the read cache may hold (`ResourceCache`).
        public var readCache: ResourceCache.Limits

        public enum Synchronous: String, Sendable { case full = "FULL", normal = "NORMAL" }

        public init(synchronous: Synchronous = .full, busyTimeoutSeconds: Double = 5, readCache: ResourceCache.Limits = .standard) {
            self.synchronous = synchronous
            self.busyTimeoutSeconds = busyTimeoutSeconds
            self.readCache = readCache
        }
    }

    public static let fileName = "eddy.sqlite"

    public let epoch: String
    public let nodeID = "embedded"
    private let pool: DatabasePool
    var writer: DatabasePool { pool }
    private let listener = CommitListener()
    private let groupCommit: GroupCommit
    let cache: ResourceCache

    /// Opens (creating if needed) the store in `directory`.
    public init(directory: URL, configuration: Configuration = .init()) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var grdb = GRDB.Configuration()
        grdb.busyMode = .timeout(configuration.busyTimeoutSeconds)
        let path = directory.appendingPathComponent(Self.fileName).path
        let pool = try DatabasePool(path: path, configuration: grdb)
        // Set on the writer once the pool is open: GRDB's WAL setup runs after
        // `prepareDatabase` and sets NORMAL, which would silently undo a FULL set there.
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = \(configuration.synchronous.rawValue)")
        }
        self.pool = pool
        try SQLiteSchema.migrator().migrate(pool)
        epoch = try pool.write { db in
            if let existing = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'epoch'") {
                return existing
            }
            let fresh = Self.makeEpoch()
            try db.execute(sql: "INSERT INTO meta(key, value) VALUES ('epoch', ?)", arguments: [fresh])
            try db.execute(sql: "INSERT INTO meta(key, value) VALUES ('floor', '0')")
            return fresh
        }
        let listener = self.listener
        let epoch = self.epoch
        let cache = ResourceCache(limits: configuration.readCache)
        self.cache = cache
        groupCommit = GroupCommit(
            pool: pool, cache: cache, apply: { mutation, db in try Self.apply(mutation, in: db, epoch: epoch) }, listener: { listener.current })
    }

    private static func makeEpoch() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(generator.next() & 0xFF_FFFF_FFFF, radix: 36)
    }

    /// The `synchronous` setting the writer commits with, read back from SQLite.
    public func synchronousInEffect() async throws -> Configuration.Synchronous? {
        try await pool.writeWithoutTransaction { db in
            switch try Int.fetchOne(db, sql: "PRAGMA synchronous") {
            case 2: .full
            case 1: .normal
            default: nil
            }
        }
    }

    public func setCommitListener(_ listener: @escaping @Sendable ([ChangeEvent]) -> Void) {
        self.listener.set(listener)
    }

    public func resource(at path: ResourcePath) async throws -> StoredResource? {
        let epoch = self.epoch
        // One statement sees one snapshot of the database by itself: the BEGIN and COMMIT of a
        // read transaction around it would add two statements' work and isolate nothing more.
        // Prepared once per reader connection, not per read: preparing it was about a quarter
        // of a GET's instructions (docs/benchmark-log.md, sixteenth series).
        let ticket: ResourceCache.Ticket
        switch cache.lookup(path) {
        case .hit(let resource): return resource
        case .miss(let missed): ticket = missed
        }
        let found = try await pool.unsafeRead { db in
            try Row.fetchOne(
                db.cachedStatement(sql: "SELECT value, version, created_seq, updated_at, created_at FROM resources WHERE path = ? AND value IS NOT NULL"),
                arguments: [path.description]
            ).map { Self.resource(path: path, row: $0, epoch: epoch) }
        }
        if let found { cache.fill(found, ticket: ticket) }
        return found
    }

    public func children(of collection: ResourcePath, limit: Int, descending: Bool) async throws -> [StoredResource] {
        let epoch = self.epoch
        let order = descending ? "DESC" : "ASC"
        return try await pool.unsafeRead { db in
            let rows = try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT path, value, version, created_seq, updated_at, created_at FROM resources
                        WHERE parent = ? AND value IS NOT NULL ORDER BY created_seq \(order) LIMIT ?
                        """),
                arguments: [collection.description, limit])
            return try rows.map { row in
                let path = try ResourcePath(decoded: row["path"])
                return Self.resource(path: path, row: row, epoch: epoch)
            }
        }
    }

    public func collectionExists(_ collection: ResourcePath) async throws -> Bool {
        if collection == .root { return true }
        let (low, high) = collection.subtreeRange
        return try await pool.unsafeRead { db in
            try Bool.fetchOne(
                db.cachedStatement(sql: "SELECT EXISTS(SELECT 1 FROM resources WHERE path > ? AND path < ?)"), arguments: [low, high]) ?? false
        }
    }

    public func commit(_ mutation: Mutation) async throws -> CommitOutcome {
        try await groupCommit.commit(mutation)
    }

    /// Its own transaction on the one writer, so it lands between group commits, in order
    /// with them, and its events reach the listener as one batch when it commits.
    public func commit(all mutations: [Mutation]) async throws -> BatchOutcome {
        let epoch = self.epoch
        let listener = self.listener
        let paths = mutations.map { $0.path }
        cache.beginWriting(paths)
        var committed: [ResourcePath] = []
        defer { cache.endWriting(paths, committed: committed) }
        do {
            let outcome: BatchOutcome = try await pool.write { db in
                var outcomes: [CommitOutcome] = []
                var events: [ChangeEvent] = []
                for (index, mutation) in mutations.enumerated() {
                    let outcome = try Self.apply(mutation, in: db, epoch: epoch)
                    guard case .committed(let event, _) = outcome else { throw BatchRefusal(index: index, outcome: outcome) }
                    outcomes.append(outcome)
                    events.append(event)
                }
                if !events.isEmpty, let call = listener.current {
                    let committed = events
                    db.afterNextTransaction(onCommit: { _ in call(committed) })
                }
                return .committed(outcomes)
            }
            if case .committed(let outcomes) = outcome {
                committed = outcomes.compactMap { if case .committed(let event, _) = $0 { event.path } else { nil } }
            }
            return outcome
        } catch let refusal as BatchRefusal {
            return .refused(index: refusal.index, outcome: refusal.outcome)
        }
    }

    public func timeline(of collection: ResourcePath, from: Int64, to: Int64, descending: Bool, limit: Int) async throws -> [StoredResource] {
        let epoch = self.epoch
        return try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT path, value, version, created_seq, updated_at, created_at FROM resources
                    WHERE parent = ? AND value IS NOT NULL AND created_at >= ? AND created_at < ?
                    ORDER BY created_at \(descending ? "DESC" : "ASC"), created_seq \(descending ? "DESC" : "ASC") LIMIT ?
                    """,
                arguments: [collection.description, from, to, limit]
            ).map { row in Self.resource(path: try ResourcePath(decoded: row["path"]), row: row, epoch: epoch) }
        }
    }

    public func timelineNeighbour(of collection: ResourcePath, before: Int64?, atOrAfter: Int64?) async throws -> Int64? {
        try await pool.read { db in
            if let before {
                return try Int64.fetchOne(
                    db, sql: "SELECT MAX(created_at) FROM resources WHERE parent = ? AND value IS NOT NULL AND created_at < ?",
                    arguments: [collection.description, before])
            }
            return try Int64.fetchOne(
                db, sql: "SELECT MIN(created_at) FROM resources WHERE parent = ? AND value IS NOT NULL AND created_at >= ?",
                arguments: [collection.description, atOrAfter ?? Int64.min])
        }
    }

    public func events(after sequence: SequenceNumber, matching filter: SubscriptionFilter?, limit: Int) async throws -> [ChangeEvent] {
        let epoch = self.epoch
        return try await pool.read { db in
            let floor = try Self.floor(db)
            if sequence < floor {
                throw StoreError.historyTruncated(requested: sequence, floor: floor)
            }
            let head = try Self.head(db)
            if sequence > head {
                throw StoreError.positionFromTheFuture(requested: sequence, head: head)
            }
            var sql = "SELECT seq, path, kind, time, value FROM events WHERE seq > ?"
            var arguments: StatementArguments = [Int64(sequence)]
            switch filter {
            case nil: break
            case .value(let path):
                sql += " AND path = ?"
                arguments += [path.description]
            case .children(let collection):
                sql += " AND parent = ?"
                arguments += [collection.description]
            case .subtree(let prefix) where prefix == .root: break
            case .subtree(let prefix):
                let (low, high) = prefix.subtreeRange
                sql += " AND path > ? AND path < ?"
                arguments += [low, high]
            }
            sql += " ORDER BY seq LIMIT ?"
            arguments += [limit]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { try Self.event(row: $0, epoch: epoch) }
        }
    }

    public func headSequence() async throws -> SequenceNumber {
        try await pool.read { db in try Self.head(db) }
    }

    public func retainedFloor() async throws -> SequenceNumber {
        try await pool.read { db in try Self.floor(db) }
    }

    public func applyRetention(_ policy: RetentionPolicy, now: Int64) async throws -> Int {
        try await pool.write { db in
            let head = try Self.head(db)
            let byCount = head > UInt64(policy.maximumEvents) ? head - UInt64(policy.maximumEvents) : 0
            let cutoffTime = now - Int64(policy.maximumAgeSeconds) * 1000
            let byAge = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM events WHERE time < ?", arguments: [cutoffTime]).map(UInt64.init) ?? 0
            let newFloor = max(byCount, byAge)
            guard newFloor > (try Self.floor(db)) else { return 0 }
            try db.execute(sql: "DELETE FROM events WHERE seq <= ?", arguments: [Int64(newFloor)])
            let removed = db.changesCount
            // Tombstones older than the floor can no longer be reported to anyone.
            try db.execute(sql: "DELETE FROM resources WHERE value IS NULL AND version <= ?", arguments: [Int64(newFloor)])
            try db.execute(sql: "UPDATE meta SET value = ? WHERE key = 'floor'", arguments: [String(newFloor)])
            return removed
        }
    }

    public func close() async throws {
        try pool.close()
    }

    // MARK: - Inside the writer

    private static func apply(_ mutation: Mutation, in db: Database, epoch: String) throws -> CommitOutcome {
        let sequence = try nextSequence(db)
        let path = try mutation.targetPath(nextSequence: sequence)
        // Cached statements: a write runs these four every time, and compiling them (with GRDB's
        // authorizer on every compile) cost more than running them.
        let current = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT value, version, created_seq, created_at FROM resources WHERE path = ?"), arguments: [path.description]
        ).map { row in
            // By position, as selected: a column looked up by name is lowercased and searched
            // for on every write.
            StoredRow(value: row[0], version: UInt64(row[1] as Int64), createdSequence: UInt64(row[2] as Int64), createdAt: row[3])
        }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        switch try mutation.plan(target: path, current: current, sequence: sequence, now: now, epoch: epoch) {
        case .refuse(let outcome):
            return outcome
        case .write(let write):
            let parent = path.parent?.description ?? ""
            try db.cachedStatement(sql: "INSERT INTO events(seq, path, parent, kind, time, value) VALUES (?, ?, ?, ?, ?, ?)").execute(
                arguments: [Int64(sequence), path.description, parent, write.kind.rawValue, now, write.loggedValue])
            try db.cachedStatement(
                sql: """
                    INSERT INTO resources(path, parent, value, version, created_seq, updated_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(path) DO UPDATE SET value = excluded.value, version = excluded.version,
                        created_seq = excluded.created_seq, updated_at = excluded.updated_at, created_at = excluded.created_at
                    """
            ).execute(
                arguments: [
                    path.description, parent, write.value, Int64(sequence), Int64(write.createdSequence), now, write.createdAt,
                ])
            return write.outcome(epoch: epoch)
        }
    }

    private static func nextSequence(_ db: Database) throws -> UInt64 {
        try head(db) + 1
    }

    private static func head(_ db: Database) throws -> UInt64 {
        let logged = try Int64.fetchOne(db.cachedStatement(sql: "SELECT seq FROM sqlite_sequence WHERE name = 'events'")) ?? 0
        return UInt64(logged)
    }

    private static func floor(_ db: Database) throws -> UInt64 {
        UInt64(try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'floor'") ?? "0") ?? 0
    }

    private static func resource(path: ResourcePath, row: Row, epoch: String) -> StoredResource {
        let version = UInt64(row["version"] as Int64)
        return StoredResource(
            path: path, value: row["value"], etag: ETag(epoch: epoch, version: version), version: version,
            createdSequence: UInt64(row["created_seq"] as Int64), updatedAt: row["updated_at"], createdAt: row["created_at"])
    }

    private static func event(row: Row, epoch: String) throws -> ChangeEvent {
        let sequence = UInt64(row["seq"] as Int64)
        guard let kind = ChangeKind(rawValue: row["kind"]) else {
            throw DatabaseError(message: "unknown change kind in event \(sequence)")
        }
        return ChangeEvent(
            sequence: sequence, path: try ResourcePath(decoded: row["path"]), kind: kind,
            etag: ETag(epoch: epoch, version: sequence), timestamp: row["time"], logged: row["value"])
    }
}
