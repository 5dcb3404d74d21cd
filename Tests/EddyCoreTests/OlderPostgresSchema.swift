import EddyCore
@testable import EddyPostgres
import Foundation
import Logging
import PostgresNIO

/// A PostgreSQL schema as an older Eddy left it, for migration tests: a fresh schema holding
/// the migrations table and the schema steps up to `version`, then whatever `fill` writes.
/// Returns where it is, for `PostgresStore.open` to migrate.
enum OlderPostgresSchema {
    static let isAvailable = ProcessInfo.processInfo.environment["EDDY_TEST_POSTGRES"].map { !$0.isEmpty } ?? false

    static var logger: Logger {
        var logger = Logger(label: "migration-test")
        logger.logLevel = .error
        return logger
    }

    static func make(
        upTo version: Int, fill: (PostgresConnection, Logger) async throws -> Void
    ) async throws -> (location: PostgresLocation, schema: String) {
        guard let base = ProcessInfo.processInfo.environment["EDDY_TEST_POSTGRES"], !base.isEmpty else {
            throw PostgresUnavailable()
        }
        let schema = "s_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "_")
        let location = try PostgresLocation(url: base + (base.contains("?") ? "&" : "?") + "schema=" + schema)
        let logger = Self.logger
        let client = PostgresClient(configuration: location.clientConfiguration, backgroundLogger: logger)
        let running = Task { await client.run() }
        defer { running.cancel() }
        try await client.withConnection { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(schema)"), logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: "SET search_path TO \(schema)"), logger: logger)
            try await connection.query(
                "CREATE TABLE migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())", logger: logger)
            for step in PostgresSchema.steps where step.version <= version {
                for statement in step.sql { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
                try await connection.query("INSERT INTO migrations(version) VALUES (\(step.version))", logger: logger)
            }
            try await fill(connection, logger)
        }
        return (location, schema)
    }

    struct PostgresUnavailable: Error {}
}
