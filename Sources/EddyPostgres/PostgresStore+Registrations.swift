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

    public func registrationCount(kind: String, owner: RegistrationOwner) async throws -> Int {
        let rows = try await client.query(Self.ownerCount(kind: kind, owner: owner), logger: logger).collect()
        return Int(try rows.first?.decode(Int64.self) ?? 0)
    }

    /// Through `registrations_by_owner`, which holds the beginnings of subjects and payloads
    /// (so the conditions name those beginnings). Subjects are equal only when their bytes are
    /// (the collation is deterministic); payloads are compared under `"C"`, byte by byte.
    static func ownerCount(kind: String, owner: RegistrationOwner) -> PostgresQuery {
        switch owner {
        case .subject(let subject):
            return """
                SELECT count(*) FROM registrations
                WHERE kind = \(kind) AND left(subject, 128) = left(\(subject), 128) AND subject = \(subject)
                """
        case .anonymous(let prefix):
            if let range = RegistrationOwner.indexedRange(of: prefix) {
                return """
                    SELECT count(*) FROM registrations WHERE kind = \(kind) AND left(subject, 128) IS NULL
                        AND left(payload, 96) COLLATE "C" >= \(range.from) AND left(payload, 96) COLLATE "C" < \(range.upTo)
                    """
            }
            let characters = Int32(clamping: prefix.unicodeScalars.count)
            return """
                SELECT count(*) FROM registrations WHERE kind = \(kind) AND left(subject, 128) IS NULL
                    AND left(payload, \(characters)) COLLATE "C" = \(prefix)
                """
        }
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
