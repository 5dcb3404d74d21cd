import EddyCore
import Foundation
import GRDB

/// One process owns an SQLite file, so its leases are always granted; they are kept anyway so
/// the lease code above the store runs the same on every backend.
extension SQLiteStore {
    public func acquireLease(_ name: String, holder: String, seconds: Double) async throws -> Bool {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let expiresAt = now + Int64(seconds * 1000)
        return try await writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO leases(name, holder, expires_at) VALUES (?, ?, ?)
                    ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                    WHERE leases.holder = excluded.holder OR leases.expires_at < ?
                    """,
                arguments: [name, holder, expiresAt, now])
            return db.changesCount > 0
        }
    }

    public func releaseLease(_ name: String, holder: String) async throws {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM leases WHERE name = ? AND holder = ?", arguments: [name, holder])
        }
    }
}
