import EddyCore
import EddySQLite
import Foundation
import Synchronization
import Testing

/// All-or-nothing batches, on whichever store the suite runs (`StoreFixture`).
@Suite struct BatchCommitTests {
    @Test func aBatchCommitsInOrderAndReachesTheListenerOnce() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let heard = Mutex<[[SequenceNumber]]>([])
        fixture.store.setCommitListener { events in heard.withLock { $0.append(events.map(\.sequence)) } }
        try await fixture.put("/before", "{}")
        let outcome = try await fixture.store.commit(all: [
            Mutation(path: try ResourcePath(parsing: "/doc"), operation: .put(.object(["n": .int(1)]))),
            Mutation(path: try ResourcePath(parsing: "/list/a"), operation: .put(.object([:]))),
            Mutation(path: try ResourcePath(parsing: "/list/b"), operation: .put(.object([:]))),
        ])
        guard case .committed(let outcomes) = outcome else { Issue.record("expected a commit, got \(outcome)"); return }
        #expect(outcomes.count == 3)
        #expect(try await fixture.store.events(after: 1, matching: nil, limit: 10).map(\.path.description) == ["/doc", "/list/a", "/list/b"])
        #expect(try await fixture.store.headSequence() == 4)
        // Group commits after the batch still number on from it.
        #expect(try await fixture.put("/after", "{}").sequence == 5)
        if fixture.store is SQLiteStore {
            // The embedded store calls the listener itself; the shared one publishes through its follower.
            #expect(heard.withLock { $0 } == [[1], [2, 3, 4], [5]])
        }
    }

    @Test func aRefusedWriteLeavesNothingOfTheBatch() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let existing = try await fixture.put("/taken", #"{"v":1}"#)
        let outcome = try await fixture.store.commit(all: [
            Mutation(path: try ResourcePath(parsing: "/doc"), operation: .put(.object([:]))),
            Mutation(path: try ResourcePath(parsing: "/taken"), operation: .put(.object([:])), ifNoneMatch: .any),
            Mutation(path: try ResourcePath(parsing: "/list/b"), operation: .put(.object([:]))),
        ])
        guard case .refused(let index, .preconditionFailed(let current)) = outcome else {
            Issue.record("expected the second write refused, got \(outcome)")
            return
        }
        #expect(index == 1)
        #expect(current == existing.etag)
        #expect(try await fixture.store.resource(at: try ResourcePath(parsing: "/doc")) == nil)
        #expect(try await fixture.store.headSequence() == 1)
        #expect(try await fixture.store.events(after: 0, matching: nil, limit: 10).count == 1)
        // The next write takes the next free number: nothing of the batch is left in the log.
        #expect(try await fixture.put("/after", "{}").sequence == 2)
    }
}
