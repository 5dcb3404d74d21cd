import EddyCore
@testable import EddyPostgres
@testable import EddySQLite
import Foundation
import GRDB
import Logging
import PostgresNIO
import Testing

/// A database made before registrations were indexed by owner gets the index on open, and its
/// registrations count against their owners as new ones do.
@Suite struct RegistrationOwnerMigrationTests {
    static let older: [(id: String, subject: String?, payload: String)] = [
        ("anonymous-1", nil, #"{"registeredFrom":"10.0.0.1","url":"x"}"#),
        ("anonymous-2", nil, #"{"registeredFrom":"10.0.0.1"}"#),
        ("anonymous-3", nil, #"{"registeredFrom":"10.0.0.2"}"#),
        ("subject-1", "alice", "{}"),
    ]

    static func expectMigrated(_ store: any ResourceStore) async throws {
        #expect(try await store.registrationCount(kind: "lr-webhook", owner: .anonymous(payloadPrefix: #"{"registeredFrom":"10.0.0.1""#)) == 2)
        #expect(try await store.registrationCount(kind: "lr-webhook", owner: .anonymous(payloadPrefix: #"{"registeredFrom":"10.0.0.2""#)) == 1)
        #expect(try await store.registrationCount(kind: "lr-webhook", owner: .subject("alice")) == 1)
    }

    @Test func anEmbeddedDatabaseFromBeforeTheOwnerIndexIsMigrated() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let queue = try DatabaseQueue(path: directory.appendingPathComponent(SQLiteStore.fileName).path)
        try SQLiteSchema.migrator().migrate(queue, upTo: "v5: registration tokens")
        try await queue.write { db in
            for registration in Self.older {
                try db.execute(
                    sql: "INSERT INTO registrations(id, kind, subject, payload, cursor) VALUES (?, 'lr-webhook', ?, ?, 0)",
                    arguments: [registration.id, registration.subject, registration.payload])
            }
        }
        try queue.close()

        let store = try SQLiteStore(directory: directory, configuration: .init(synchronous: .normal))
        defer { Task { try? await store.close() } }
        try await Self.expectMigrated(store)
        let indexed = try await store.writer.read { db in
            try String.fetchOne(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'registrations_by_owner'")
        }
        #expect(indexed == "registrations_by_owner")
    }

    @Test(.enabled(if: OlderPostgresSchema.isAvailable))
    func aPostgresSchemaFromBeforeTheOwnerIndexIsMigrated() async throws {
        // The schema as the token step left it.
        let (location, schema) = try await OlderPostgresSchema.make(upTo: 2) { connection, logger in
            for registration in Self.older {
                try await connection.query(
                    """
                    INSERT INTO registrations(id, kind, subject, payload, cursor)
                    VALUES (\(registration.id), 'lr-webhook', \(registration.subject), \(registration.payload), 0)
                    """, logger: logger)
            }
        }
        let logger = OlderPostgresSchema.logger

        let store = try await PostgresStore.open(location, logger: logger)
        defer { Task { try? await store.close() } }
        try await Self.expectMigrated(store)
        let indexes = try await store.client.query(
            "SELECT indexname FROM pg_indexes WHERE schemaname = \(schema) AND indexname = 'registrations_by_owner'", logger: logger
        ).collect()
        #expect(indexes.count == 1)
    }
}
