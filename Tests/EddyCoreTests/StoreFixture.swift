import EddyCore
import EddyPostgres
import EddySQLite
import Foundation
import Logging

/// A fresh store for one test: SQLite in its own temporary folder, or — in the suite's
/// PostgreSQL pass (`EDDY_TEST_STORE=postgres`) — a fresh schema in `EDDY_TEST_POSTGRES`.
struct StoreFixture {
    let directory: URL
    let store: any ResourceStore
    private let location: PostgresLocation?

    static func make() async throws -> StoreFixture {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-test-\(UUID().uuidString)")
        let environment = ProcessInfo.processInfo.environment
        guard environment["EDDY_TEST_STORE"] == "postgres", let base = environment["EDDY_TEST_POSTGRES"] else {
            return StoreFixture(directory: directory, store: try SQLiteStore(directory: directory, configuration: .init(synchronous: .normal)), location: nil)
        }
        let schema = "s_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "_")
        let location = try PostgresLocation(url: base + (base.contains("?") ? "&" : "?") + "schema=" + schema)
        return StoreFixture(directory: directory, store: try await PostgresStore.open(location, logger: Self.logger), location: location)
    }

    private static var logger: Logger {
        var logger = Logger(label: "store-test")
        logger.logLevel = .error
        return logger
    }

    /// The same store opened again, as after a restart (the fixture's own store must be closed first).
    func reopen() async throws -> any ResourceStore {
        if let location { return try await PostgresStore.open(location, logger: Self.logger) }
        return try SQLiteStore(directory: directory)
    }

    func remove() async {
        try? await store.close()
        try? FileManager.default.removeItem(at: directory)
    }

    @discardableResult
    func put(_ path: String, _ json: String) async throws -> ChangeEvent {
        let outcome = try await store.commit(Mutation(path: try ResourcePath(parsing: path), operation: .put(try JSONValue(parsing: json))))
        guard case .committed(let event, _) = outcome else { throw FixtureError.notCommitted("\(outcome)") }
        return event
    }

    enum FixtureError: Error { case notCommitted(String) }
}
