import EddyCore
@testable import EddyPostgres
@testable import EddySQLite
import Foundation
import GRDB
import Logging
import PostgresNIO
import Testing

/// A database made before registrations had tokens is migrated on open: its registrations
/// are kept, without a token, and can be given one that the index then finds.
@Suite struct RegistrationTokenMigrationTests {
    static let older = StoredRegistration(id: "older", kind: "solid-channel", subject: nil, payload: "{}", cursor: 7)

    static func expectMigrated(_ store: any ResourceStore) async throws {
        let kept = try #require(try await store.registration(id: older.id))
        #expect(kept.token == nil)
        #expect(kept.cursor == 7)
        try await store.saveRegistration(
            StoredRegistration(id: kept.id, kind: kept.kind, subject: nil, payload: kept.payload, cursor: kept.cursor, token: "given"))
        #expect(try await store.registration(token: "given")?.id == older.id)
    }

    @Test func anEmbeddedDatabaseFromBeforeTokensIsMigrated() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let queue = try DatabaseQueue(path: directory.appendingPathComponent(SQLiteStore.fileName).path)
        try SQLiteSchema.migrator().migrate(queue, upTo: "v4: leases")
        try await queue.write { db in
            try db.execute(
                sql: "INSERT INTO registrations(id, kind, subject, payload, cursor) VALUES (?, ?, NULL, ?, ?)",
                arguments: [Self.older.id, Self.older.kind, Self.older.payload, Int64(Self.older.cursor)])
        }
        try queue.close()

        let store = try SQLiteStore(directory: directory, configuration: .init(synchronous: .normal))
        defer { Task { try? await store.close() } }
        try await Self.expectMigrated(store)
    }

    @Test(.enabled(if: OlderPostgresSchema.isAvailable))
    func aPostgresSchemaFromBeforeTokensIsMigrated() async throws {
        // The schema as the first version left it.
        let (location, _) = try await OlderPostgresSchema.make(upTo: 1) { connection, logger in
            try await connection.query(
                """
                INSERT INTO registrations(id, kind, subject, payload, cursor)
                VALUES (\(Self.older.id), \(Self.older.kind), NULL, \(Self.older.payload), \(Int64(Self.older.cursor)))
                """, logger: logger)
        }
        let logger = OlderPostgresSchema.logger

        let store = try await PostgresStore.open(location, logger: logger)
        defer { Task { try? await store.close() } }
        try await Self.expectMigrated(store)
    }
}
