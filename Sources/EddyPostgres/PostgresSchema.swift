import Logging
import PostgresNIO

/// Versioned schema of the cluster store. Every node runs the migrations on start; an advisory
/// lock taken inside the migrating transaction makes nodes that start together take turns, so
/// each step runs exactly once.
enum PostgresSchema {
    /// Paths compare byte by byte (`COLLATE "C"`): subtree queries rely on `/` < `0`.
    static let steps: [(version: Int, sql: [String])] = [
        (
            1,
            [
                "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                // One row: the newest sequence number and the retention floor. Writers lock it
                // for their whole transaction, so commits happen in sequence order.
                """
                CREATE TABLE log_state (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    head BIGINT NOT NULL,
                    floor BIGINT NOT NULL
                )
                """,
                "INSERT INTO log_state(id, head, floor) VALUES (1, 0, 0)",
                """
                CREATE TABLE resources (
                    path TEXT COLLATE "C" PRIMARY KEY,
                    parent TEXT COLLATE "C" NOT NULL,
                    value TEXT,
                    version BIGINT NOT NULL,
                    created_seq BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX resources_live_by_parent ON resources(parent, created_seq) WHERE value IS NOT NULL",
                "CREATE INDEX resources_live_by_time ON resources(parent, created_at) WHERE value IS NOT NULL",
                "CREATE INDEX resources_by_parent ON resources(parent)",
                """
                CREATE TABLE events (
                    seq BIGINT PRIMARY KEY,
                    path TEXT COLLATE "C" NOT NULL,
                    parent TEXT COLLATE "C" NOT NULL,
                    kind INTEGER NOT NULL,
                    time BIGINT NOT NULL,
                    value TEXT
                )
                """,
                "CREATE INDEX events_by_path ON events(path, seq)",
                "CREATE INDEX events_by_parent ON events(parent, seq)",
                "CREATE INDEX events_by_time ON events(time)",
                """
                CREATE TABLE registrations (
                    id TEXT PRIMARY KEY,
                    kind TEXT NOT NULL,
                    subject TEXT,
                    payload TEXT NOT NULL,
                    cursor BIGINT NOT NULL,
                    expires_at BIGINT
                )
                """,
                "CREATE INDEX registrations_by_kind ON registrations(kind)",
                "CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at BIGINT NOT NULL)",
            ]
        ),
        (
            2,
            [
                // Filled in by the feature that owns a registration when it next starts: only
                // it knows where its payload keeps the token.
                #"ALTER TABLE registrations ADD COLUMN token TEXT COLLATE "C""#,
                "CREATE UNIQUE INDEX registrations_by_token ON registrations(token) WHERE token IS NOT NULL",
            ]
        ),
        (
            3,
            [
                // A quota counts an owner's registrations on every create: by subject, or for
                // an anonymous caller by the beginning of the payload, where its address is
                // kept (`RegistrationOwner.indexedPrefixCharacters`). Only beginnings are
                // indexed, as an index entry has to fit in a page and a subject has no limit.
                #"CREATE INDEX registrations_by_owner ON registrations(kind, (left(subject, 128)), (left(payload, 96) COLLATE "C"))"#,
            ]
        ),
    ]

    /// Creates the schema and applies the steps it lacks; returns the log's epoch (made by
    /// whichever node created the schema).
    static func migrate(_ client: PostgresClient, schema: String, freshEpoch: String, logger: Logger) async throws -> String {
        try await client.withTransaction(logger: logger) { connection in
            // hashtext gives a stable 32-bit key per schema; other schemas migrate independently.
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\("eddy-migrate:" + schema)))", logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(schema)"), logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL search_path TO \(schema)"), logger: logger)
            try await connection.query(
                PostgresQuery(unsafeSQL: "CREATE TABLE IF NOT EXISTS \(schema).migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"),
                logger: logger)
            var applied = Set<Int>()
            for try await version in try await connection.query(
                PostgresQuery(unsafeSQL: "SELECT version FROM \(schema).migrations"), logger: logger
            ).decode(Int.self) {
                applied.insert(version)
            }
            for step in steps where !applied.contains(step.version) {
                for statement in step.sql {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    PostgresQuery(unsafeSQL: "INSERT INTO \(schema).migrations(version) VALUES (\(step.version))"), logger: logger)
                logger.info("store schema migrated", metadata: ["schema": "\(schema)", "version": "\(step.version)"])
            }
            try await connection.query(
                "INSERT INTO meta(key, value) VALUES ('epoch', \(freshEpoch)) ON CONFLICT (key) DO NOTHING", logger: logger)
            let rows = try await connection.query("SELECT value FROM meta WHERE key = 'epoch'", logger: logger)
            for try await epoch in rows.decode(String.self) { return epoch }
            throw PostgresStoreError("the store has no epoch")
        }
    }
}

struct PostgresStoreError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
