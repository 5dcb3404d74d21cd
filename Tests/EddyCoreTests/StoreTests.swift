import EddyCore
import EddySQLite
import Foundation
import Testing

@Suite struct StoreTests {
    @Test func logsOneEventPerMutationInOrder() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let store = fixture.store
        let a = try ResourcePath(parsing: "/c/a")
        try await fixture.put("/c/a", #"{"v":1}"#)
        try await fixture.put("/c/a", #"{"v":2}"#)
        _ = try await store.commit(Mutation(path: a, operation: .patch(try JSONValue(parsing: #"{"w":3}"#))))
        _ = try await store.commit(Mutation(path: a, operation: .delete))
        let events = try await store.events(after: 0, matching: nil, limit: 100)
        #expect(events.map(\.kind) == [.created, .updated, .updated, .deleted])
        #expect(events.map(\.sequence) == [1, 2, 3, 4])
        #expect(events[2].value == #"{"v":2,"w":3}"#)
        #expect(events[3].value == nil)
        #expect(try await store.resource(at: a) == nil)
        #expect(try await store.headSequence() == 4)
        // The emptied collection still exists: its history is there to watch.
        #expect(try await store.collectionExists(try ResourcePath(parsing: "/c/")))
        #expect(try await !store.collectionExists(try ResourcePath(parsing: "/d/")))
    }

    @Test func readsEventsByPathChildrenAndSubtree() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        for path in ["/a/x", "/a/y", "/a/sub/z", "/ab/q", "/b"] {
            try await fixture.put(path, "{}")
        }
        func paths(_ filter: SubscriptionFilter, after: UInt64 = 0) async throws -> [String] {
            try await fixture.store.events(after: after, matching: filter, limit: 100).map(\.path.description)
        }
        #expect(try await paths(.value(try ResourcePath(parsing: "/a/x"))) == ["/a/x"])
        #expect(try await paths(.children(try ResourcePath(parsing: "/a/"))) == ["/a/x", "/a/y"])
        #expect(try await paths(.subtree(try ResourcePath(parsing: "/a/"))) == ["/a/x", "/a/y", "/a/sub/z"])
        #expect(try await paths(.subtree(.root), after: 3) == ["/ab/q", "/b"])
    }

    @Test func preconditionsAreCheckedInsideTheTransaction() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let path = try ResourcePath(parsing: "/p")
        let first = try await fixture.put("/p", "{}")
        let stale = ETagCondition.tags([ETag(opaque: "nope")])
        let refused = try await fixture.store.commit(Mutation(path: path, operation: .put(.object([:])), ifMatch: stale))
        guard case .preconditionFailed(let current) = refused else { Issue.record("expected 412, got \(refused)"); return }
        #expect(current == first.etag)
        let createOnly = try await fixture.store.commit(Mutation(path: path, operation: .put(.object([:])), ifNoneMatch: .any))
        guard case .preconditionFailed = createOnly else { Issue.record("expected 412, got \(createOnly)"); return }
        #expect(try await fixture.store.headSequence() == 1)
    }

    @Test func retentionMakesOldPositionsDetectable() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        for index in 0..<10 { try await fixture.put("/r/\(index)", "{}") }
        let removed = try await fixture.store.applyRetention(.init(maximumEvents: 4, maximumAgeSeconds: 3600), now: 0)
        #expect(removed == 6)
        #expect(try await fixture.store.retainedFloor() == 6)
        await #expect(throws: StoreError.historyTruncated(requested: 5, floor: 6)) {
            try await fixture.store.events(after: 5, matching: nil, limit: 10)
        }
        #expect(try await fixture.store.events(after: 6, matching: nil, limit: 10).map(\.sequence) == [7, 8, 9, 10])
        await #expect(throws: StoreError.positionFromTheFuture(requested: 11, head: 10)) {
            try await fixture.store.events(after: 11, matching: nil, limit: 10)
        }
        // Sequence numbers keep counting up after the log was trimmed.
        #expect(try await fixture.put("/r/x", "{}").sequence == 11)
    }

    /// GRDB's WAL setup sets NORMAL after a connection's own preparation; a FULL asked for
    /// must still be what the writer commits with, or "acknowledged" would not mean fsynced.
    @Test(arguments: [SQLiteStore.Configuration.Synchronous.full, .normal])
    func theWriterCommitsWithTheSynchronousSettingAskedFor(_ setting: SQLiteStore.Configuration.Synchronous) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(directory: directory, configuration: .init(synchronous: setting))
        #expect(try await store.synchronousInEffect() == setting)
        _ = try await store.commit(Mutation(path: try ResourcePath(parsing: "/a"), operation: .put(try JSONValue(parsing: "{}"))))
        #expect(try await store.synchronousInEffect() == setting)
        try await store.close()
    }

    @Test func reopeningKeepsEpochAndData() async throws {
        let fixture = try await StoreFixture.make()
        try await fixture.put("/k", #"{"a":1}"#)
        let epoch = fixture.store.epoch
        try await fixture.store.close()
        let reopened = try await fixture.reopen()
        #expect(reopened.epoch == epoch)
        #expect(try await reopened.resource(at: try ResourcePath(parsing: "/k"))?.value == #"{"a":1}"#)
        try await reopened.close()
        await fixture.remove()
    }
}

@Suite struct GroupCommitTests {
    @Test func concurrentWritesCommitTogetherAndPublishInSequenceOrder() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let published = PublishedSequences()
        fixture.store.setCommitListener { events in published.append(events.map(\.sequence)) }
        let count = 500
        let outcomes = try await withThrowingTaskGroup(of: CommitOutcome.self) { group in
            for index in 0..<count {
                group.addTask {
                    let path = try ResourcePath(parsing: "/g/\(index % 50)")
                    return try await fixture.store.commit(Mutation(path: path, operation: .put(.object(["i": .int(Int64(index))]))))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let sequences = outcomes.compactMap { outcome -> UInt64? in
            if case .committed(let event, _) = outcome { return event.sequence }
            return nil
        }
        #expect(sequences.count == count)
        #expect(Set(sequences) == Set(1...UInt64(count)))
        // Every committed event reached the listener once, in sequence order, in fewer calls
        // than writes when batches formed.
        #expect(published.all == Array(1...UInt64(count)))
        #expect(published.calls < count)
        #expect(try await fixture.store.events(after: 0, matching: nil, limit: 10_000).count == count)
    }

    @Test func aFailingPreconditionDoesNotDisturbItsBatch() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        try await fixture.put("/p", "{}")
        let stale = ETagCondition.tags([ETag(opaque: "stale")])
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<40 {
                group.addTask {
                    let mutation = index % 2 == 0
                        ? Mutation(path: try ResourcePath(parsing: "/p"), operation: .put(.object([:])), ifMatch: stale)
                        : Mutation(path: try ResourcePath(parsing: "/q/\(index)"), operation: .put(.object([:])))
                    if case .committed = try await fixture.store.commit(mutation) { return true }
                    return false
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.filter { $0 }.count == 20)
        #expect(try await fixture.store.headSequence() == 21)
    }

    /// An append under a collection whose path leaves no room for a child's name throws inside
    /// the transaction; its savepoint is undone and the writes batched with it still commit.
    @Test func aWriteThatThrowsLeavesItsBatchCommitted() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let crowded = try ResourcePath(parsing: "/" + String(repeating: "c", count: ResourcePath.maximumLength - 2) + "/")
        let outcomes = await withTaskGroup(of: Bool?.self) { group in
            for index in 0..<40 {
                group.addTask {
                    let mutation = index % 2 == 0
                        ? Mutation(path: crowded, operation: .append(.object([:])))
                        : Mutation(path: try! ResourcePath(parsing: "/q/\(index)"), operation: .put(.object([:])))
                    do {
                        if case .committed = try await fixture.store.commit(mutation) { return true }
                        return false
                    } catch {
                        return nil
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == true }.count == 20)
        #expect(outcomes.filter { $0 == nil }.count == 20)
        #expect(try await fixture.store.headSequence() == 20)
        let logged = try await fixture.store.events(after: 0, matching: nil, limit: 100)
        #expect(logged.map(\.sequence) == Array(1...20))
        #expect(logged.allSatisfy { $0.path.description.hasPrefix("/q/") })
    }
}

extension GroupCommitTests {
    /// A listener read out of the store's lock once per commit used to come back wrapped in
    /// two more reabstraction thunks each time: calls got deeper with every commit, until a
    /// long-running server's publishing thread ran out of stack.
    @Test func theCommitListenerIsCalledAtTheSameDepthCommitAfterCommit() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let depths = CallDepths()
        fixture.store.setCommitListener { _ in depths.record() }
        for index in 0..<300 { try await fixture.put("/depth/\(index % 10)", "{\"i\":\(index)}") }
        let recorded = depths.all
        #expect(recorded.count >= 2)
        let first = try #require(recorded.first)
        let deepest = try #require(recorded.max())
        #expect(deepest <= first + 8, "the listener's call grew from \(first) to \(deepest) frames")
    }
}

/// Stack depths of the calls to a listener.
final class CallDepths: @unchecked Sendable {
    private let lock = NSLock()
    private var depths: [Int] = []

    func record() {
        let depth = Thread.callStackReturnAddresses.count
        lock.withLock { depths.append(depth) }
    }

    var all: [Int] { lock.withLock { depths } }
}

final class PublishedSequences: @unchecked Sendable {
    private let lock = NSLock()
    private var sequences: [UInt64] = []
    private var callCount = 0
    func append(_ more: [UInt64]) {
        lock.withLock {
            sequences += more
            callCount += 1
        }
    }
    var calls: Int { lock.withLock { callCount } }
    var all: [UInt64] { lock.withLock { sequences } }
}
