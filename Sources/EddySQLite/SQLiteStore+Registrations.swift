import EddyCore
import GRDB

extension SQLiteStore {
    public func saveRegistration(_ registration: StoredRegistration) async throws {
        try await writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO registrations(id, kind, subject, payload, cursor, expires_at, token) VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, subject = excluded.subject, payload = excluded.payload,
                        cursor = excluded.cursor, expires_at = excluded.expires_at, token = excluded.token
                    """,
                arguments: [
                    registration.id, registration.kind, registration.subject, registration.payload, Int64(registration.cursor),
                    registration.expiresAt, registration.token,
                ])
        }
    }

    public func createRegistration(_ registration: StoredRegistration) async throws -> Bool {
        try await writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO registrations(id, kind, subject, payload, cursor, expires_at, token) VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(id) DO NOTHING
                    """,
                arguments: [
                    registration.id, registration.kind, registration.subject, registration.payload, Int64(registration.cursor),
                    registration.expiresAt, registration.token,
                ])
            return db.changesCount > 0
        }
    }

    public func deleteRegistration(id: String) async throws -> Bool {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM registrations WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    public func registrations(kind: String) async throws -> [StoredRegistration] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM registrations WHERE kind = ? ORDER BY id", arguments: [kind]).map(Self.registration)
        }
    }

    public func registration(id: String) async throws -> StoredRegistration? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM registrations WHERE id = ?", arguments: [id]).map(Self.registration)
        }
    }

    /// `=` on TEXT under the column's BINARY collation compares the UTF-8 bytes, through the
    /// `registrations_by_token` index.
    public func registration(token: String) async throws -> StoredRegistration? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM registrations WHERE token = ?", arguments: [token]).map(Self.registration)
        }
    }

    public func advanceRegistration(id: String, to cursor: SequenceNumber) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE registrations SET cursor = ? WHERE id = ? AND cursor < ?", arguments: [Int64(cursor), id, Int64(cursor)])
        }
    }

    public func registrationCount(kind: String, owner: RegistrationOwner) async throws -> Int {
        let query = Self.ownerCount(kind: kind, owner: owner)
        return try await writer.read { db in try Int.fetchOne(db, sql: query.sql, arguments: query.arguments) ?? 0 }
    }

    /// Through `registrations_by_owner`; the payload's beginning is compared under the
    /// column's BINARY collation, byte by byte.
    static func ownerCount(kind: String, owner: RegistrationOwner) -> (sql: String, arguments: StatementArguments) {
        switch owner {
        case .subject(let subject):
            return ("SELECT count(*) FROM registrations WHERE kind = ? AND subject = ?", [kind, subject])
        case .anonymous(let prefix):
            if let range = RegistrationOwner.indexedRange(of: prefix) {
                return (
                    """
                    SELECT count(*) FROM registrations WHERE kind = ? AND subject IS NULL
                        AND substr(payload, 1, 96) >= ? AND substr(payload, 1, 96) < ?
                    """, [kind, range.from, range.upTo]
                )
            }
            return (
                "SELECT count(*) FROM registrations WHERE kind = ? AND subject IS NULL AND substr(payload, 1, ?) = ?",
                [kind, prefix.unicodeScalars.count, prefix]
            )
        }
    }

    private static func registration(_ row: Row) -> StoredRegistration {
        StoredRegistration(
            id: row["id"], kind: row["kind"], subject: row["subject"], payload: row["payload"],
            cursor: UInt64(row["cursor"] as Int64), expiresAt: row["expires_at"], token: row["token"])
    }
}
