import EddyCore
import EddySQLite
import Foundation

/// A fresh SQLite store in its own temporary folder, removed when the test ends.
struct StoreFixture {
    let directory: URL
    let store: SQLiteStore

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-test-\(UUID().uuidString)")
        store = try SQLiteStore(directory: directory, configuration: .init(synchronous: .normal))
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
