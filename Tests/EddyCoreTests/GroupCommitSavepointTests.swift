import EddyCore
import Foundation
import GRDB
import Testing

@testable import EddySQLite

/// Each write of a batch runs in its own savepoint: what a failing write did before it threw
/// is undone, and the writes around it commit.
@Suite struct GroupCommitSavepointTests {
    struct Refused: Error {}

    @Test func aWriteThatFailsAfterWritingLeavesNothingAndItsBatchCommits() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-savepoint-\(UUID().uuidString).sqlite")
        defer { try? FileManager.default.removeItem(at: file) }
        let pool = try DatabasePool(path: file.path)
        try await pool.write { db in try db.execute(sql: "CREATE TABLE rows(name TEXT NOT NULL)") }
        let commit = GroupCommit(
            pool: pool, cache: ResourceCache(limits: .disabled),
            apply: { mutation, db in
                try db.execute(sql: "INSERT INTO rows(name) VALUES (?)", arguments: [mutation.path.name])
                if mutation.path.name.hasPrefix("bad") { throw Refused() }
                return .notFound
            },
            listener: { nil })
        let outcomes = await withTaskGroup(of: (String, Bool).self) { group in
            for index in 0..<60 {
                let name = (index % 3 == 0 ? "bad" : "good") + String(index)
                group.addTask {
                    let mutation = Mutation(path: try! ResourcePath(parsing: "/" + name), operation: .delete)
                    return (name, (try? await commit.commit(mutation)) != nil)
                }
            }
            return await group.reduce(into: [String: Bool]()) { $0[$1.0] = $1.1 }
        }
        #expect(outcomes.filter { $0.key.hasPrefix("bad") }.allSatisfy { !$0.value })
        #expect(outcomes.filter { $0.key.hasPrefix("good") }.allSatisfy { $0.value })
        let stored = try await pool.read { db in try String.fetchAll(db, sql: "SELECT name FROM rows") }
        #expect(Set(stored) == Set(outcomes.keys.filter { $0.hasPrefix("good") }))
        #expect(stored.count == 40)
        try pool.close()
    }

    /// A deferred foreign key is checked at COMMIT: the commit fails with the transaction still
    /// open, and the writer must roll it back, or every later batch would fail to begin.
    @Test func aBatchWhoseCommitFailsFailsAndTheNextBatchCommits() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-commit-fails-\(UUID().uuidString).sqlite")
        defer { try? FileManager.default.removeItem(at: file) }
        let pool = try DatabasePool(path: file.path)
        try await pool.write { db in
            try db.execute(sql: "CREATE TABLE parents(id INTEGER PRIMARY KEY)")
            try db.execute(sql: "CREATE TABLE rows(name TEXT NOT NULL, parent INTEGER REFERENCES parents(id) DEFERRABLE INITIALLY DEFERRED)")
        }
        let commit = GroupCommit(
            pool: pool, cache: ResourceCache(limits: .disabled),
            apply: { mutation, db in
                let parent: Int? = mutation.path.name.hasPrefix("orphan") ? 1 : nil
                try db.execute(sql: "INSERT INTO rows(name, parent) VALUES (?, ?)", arguments: [mutation.path.name, parent])
                return .notFound
            },
            listener: { nil })
        let orphan = Mutation(path: try ResourcePath(parsing: "/orphan"), operation: .delete)
        await #expect(throws: DatabaseError.self) { try await commit.commit(orphan) }
        _ = try await commit.commit(Mutation(path: try ResourcePath(parsing: "/good"), operation: .delete))
        let stored = try await pool.read { db in try String.fetchAll(db, sql: "SELECT name FROM rows") }
        #expect(stored == ["good"])
        try pool.close()
    }
}
