import EddyCore
import PostgresNIO

extension PostgresStore {
    public func saveRegistration(_ registration: StoredRegistration) async throws {
        try await client.query(
            """
            INSERT INTO registrations(id, kind, subject, payload, cursor, expires_at, token)
            VALUES (\(registration.id), \(registration.kind), \(registration.subject), \(registration.payload),
                \(Int64(registration.cursor)), \(registration.expiresAt), \(registration.token))
            ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, subject = excluded.subject, payload = excluded.payload,
                cursor = excluded.cursor, expires_at = excluded.expires_at, token = excluded.token
            """, logger: logger)
    }

    public func createRegistration(_ registration: StoredRegistration) async throws -> Bool {
        let rows = try await client.query(
            """
            INSERT INTO registrations(id, kind, subject, payload, cursor, expires_at, token)
            VALUES (\(registration.id), \(registration.kind), \(registration.subject), \(registration.payload),
                \(Int64(registration.cursor)), \(registration.expiresAt), \(registration.token))
            ON CONFLICT (id) DO NOTHING RETURNING id
            """, logger: logger
        ).collect()
        return !rows.isEmpty
    }

    public func deleteRegistration(id: String) async throws -> Bool {
        let rows = try await client.query("DELETE FROM registrations WHERE id = \(id) RETURNING id", logger: logger).collect()
        return !rows.isEmpty
    }

    public func registrations(kind: String) async throws -> [StoredRegistration] {
        let rows = try await client.query(
            "SELECT id, kind, subject, payload, cursor, expires_at, token FROM registrations WHERE kind = \(kind) ORDER BY id", logger: logger)
        var found: [StoredRegistration] = []
        for try await row in rows { found.append(try Self.registration(row)) }
        return found
    }

    public func registration(id: String) async throws -> StoredRegistration? {
        let rows = try await client.query(
            "SELECT id, kind, subject, payload, cursor, expires_at, token FROM registrations WHERE id = \(id)", logger: logger
        ).collect()
        return try rows.first.map(Self.registration)
    }

    /// The column is `COLLATE "C"`: equal only when the bytes are, through `registrations_by_token`.
    public func registration(token: String) async throws -> StoredRegistration? {
        let rows = try await client.query(
            "SELECT id, kind, subject, payload, cursor, expires_at, token FROM registrations WHERE token = \(token)", logger: logger
        ).collect()
        return try rows.first.map(Self.registration)
    }

    public func advanceRegistration(id: String, to cursor: SequenceNumber) async throws {
        let position = Int64(cursor)
        try await client.query(
            "UPDATE registrations SET cursor = \(position) WHERE id = \(id) AND cursor < \(position)", logger: logger)
    }

    private static func registration(_ row: PostgresRow) throws -> StoredRegistration {
        let (id, kind, subject, payload, cursor, expiresAt, token) = try row.decode((String, String, String?, String, Int64, Int64?, String?).self)
        return StoredRegistration(
            id: id, kind: kind, subject: subject, payload: payload, cursor: UInt64(cursor), expiresAt: expiresAt, token: token)
    }

    // MARK: Leases

    /// The database's clock decides expiry, so nodes whose clocks disagree still agree on who holds a lease.
    public func acquireLease(_ name: String, holder: String, seconds: Double) async throws -> Bool {
        let milliseconds = Int64(seconds * 1000)
        let rows = try await client.query(
            """
            WITH now AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT AS ms)
            INSERT INTO leases(name, holder, expires_at) SELECT \(name), \(holder), ms + \(milliseconds) FROM now
            ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
            WHERE leases.holder = excluded.holder OR leases.expires_at < (SELECT ms FROM now)
            RETURNING holder
            """, logger: logger
        ).collect()
        return !rows.isEmpty
    }

    public func releaseLease(_ name: String, holder: String) async throws {
        try await client.query("DELETE FROM leases WHERE name = \(name) AND holder = \(holder)", logger: logger)
    }
}
