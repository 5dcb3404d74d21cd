import EddyCore
@testable import EddyPostgres
@testable import EddySQLite
import Foundation
import Testing

/// The read cache answers what the database would: never a value a write may have replaced.
@Suite struct ResourceCacheTests {
    private func resource(_ path: String, version: UInt64 = 1, value: String = #"{"n":1}"#) throws -> StoredResource {
        StoredResource(
            path: try ResourcePath(parsing: path), value: value, etag: ETag(epoch: "e", version: version), version: version,
            createdSequence: 1, updatedAt: 0)
    }

    private func ticket(_ cache: ResourceCache, _ path: String) throws -> ResourceCache.Ticket {
        switch cache.lookup(try ResourcePath(parsing: path)) {
        case .hit: throw Unexpected.hit
        case .miss(let ticket): return ticket
        }
    }

    private func cached(_ cache: ResourceCache, _ path: String) throws -> StoredResource? {
        if case .hit(let found) = cache.lookup(try ResourcePath(parsing: path)) { return found }
        return nil
    }

    enum Unexpected: Error { case hit }

    @Test func aFilledResourceIsAnsweredUntilAWriteToItBegins() throws {
        let cache = ResourceCache(limits: .init(entries: 8, bytes: 1 << 20))
        let path = try ResourcePath(parsing: "/a")
        cache.fill(try resource("/a"), ticket: try ticket(cache, "/a"))
        #expect(try cached(cache, "/a")?.version == 1)
        cache.beginWriting([path])
        #expect(try cached(cache, "/a") == nil)
        // While the write is under way, what a reader found is not kept: it may be the old value.
        cache.fill(try resource("/a"), ticket: try ticket(cache, "/a"))
        #expect(try cached(cache, "/a") == nil)
        cache.endWriting([path], committed: [path])
        cache.fill(try resource("/a", version: 2), ticket: try ticket(cache, "/a"))
        #expect(try cached(cache, "/a")?.version == 2)
    }

    @Test func aReadThatStraddlesAWholeWriteIsNotKept() throws {
        let cache = ResourceCache(limits: .init(entries: 8, bytes: 1 << 20))
        let path = try ResourcePath(parsing: "/a")
        let before = try ticket(cache, "/a")
        cache.beginWriting([path])
        cache.endWriting([path], committed: [path])
        cache.fill(try resource("/a"), ticket: before)
        #expect(try cached(cache, "/a") == nil)
    }

    @Test func aCommittedPathNotNamedBeforehandIsDropped() throws {
        let cache = ResourceCache(limits: .init(entries: 8, bytes: 1 << 20))
        cache.fill(try resource("/list/x"), ticket: try ticket(cache, "/list/x"))
        cache.beginWriting([try ResourcePath(parsing: "/list")])
        #expect(try cached(cache, "/list/x") != nil)
        cache.endWriting([try ResourcePath(parsing: "/list")], committed: [try ResourcePath(parsing: "/list/x")])
        #expect(try cached(cache, "/list/x") == nil)
    }

    @Test func theOldestFillGoesFirstWhenEntriesOrBytesRunOut() throws {
        let cache = ResourceCache(limits: .init(entries: 3, bytes: 64 * 40))
        for name in ["a", "b", "c", "d"] {
            cache.fill(try resource("/" + name), ticket: try ticket(cache, "/" + name))
        }
        #expect(cache.count == 3)
        #expect(try cached(cache, "/a") == nil)
        #expect(try cached(cache, "/d") != nil)
        // Forty bytes each, path included, in a budget of 64 × 40: the bytes run out first.
        let small = ResourceCache(limits: .init(entries: 100, bytes: 64 * 40))
        let value = String(repeating: "x", count: 35)
        for index in 0..<200 {
            let path = "/p" + String(index + 100)
            small.fill(try resource(path, value: value), ticket: try ticket(small, path))
        }
        #expect(small.count == 64)
        #expect(try cached(small, "/p299") != nil)
        #expect(try cached(small, "/p235") == nil)
        #expect(try cached(small, "/p236") != nil)
    }

    @Test func anInvalidatedEntryLeavesItsSlotToBeReused() throws {
        let cache = ResourceCache(limits: .init(entries: 2, bytes: 1 << 20))
        let a = try ResourcePath(parsing: "/a")
        cache.fill(try resource("/a"), ticket: try ticket(cache, "/a"))
        cache.beginWriting([a])
        cache.endWriting([a], committed: [a])
        for name in ["a", "b", "c", "a", "d"] {
            if try cached(cache, "/" + name) == nil {
                cache.fill(try resource("/" + name), ticket: try ticket(cache, "/" + name))
            }
            #expect(cache.count <= 2)
        }
        #expect(try cached(cache, "/d") != nil)
    }

    @Test func aValueOverASixtyFourthOfTheBudgetAndADisabledCacheKeepNothing() throws {
        let cache = ResourceCache(limits: .init(entries: 8, bytes: 64 * 100))
        cache.fill(try resource("/big", value: String(repeating: "x", count: 101)), ticket: try ticket(cache, "/big"))
        #expect(cache.count == 0)
        let disabled = ResourceCache(limits: .disabled)
        disabled.fill(try resource("/a"), ticket: try ticket(disabled, "/a"))
        #expect(disabled.count == 0)
    }

    private func cache(of store: any ResourceStore) -> ResourceCache? {
        (store as? SQLiteStore)?.cache ?? (store as? PostgresStore)?.cache
    }

    /// Through the store (SQLite, or PostgreSQL in that pass): a read after an acknowledged write
    /// sees it, and no read goes back in time, while readers and writers race on a few paths.
    @Test func readsRacingWritesAlwaysSeeEveryAcknowledgedWrite() async throws {
        let fixture = try await StoreFixture.make()
        let store = fixture.store
        store.setCommitListener { _ in }
        let paths = try (0..<4).map { try ResourcePath(parsing: "/race/\($0)") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for path in paths {
                group.addTask {
                    for round in 1...100 {
                        let outcome = try await store.commit(Mutation(path: path, operation: .put(try JSONValue(parsing: #"{"round":\#(round)}"#))))
                        guard case .committed(let event, _) = outcome else { throw Unexpected.hit }
                        let read = try await store.resource(at: path)
                        #expect((read?.version ?? 0) >= event.sequence)
                        #expect(read?.value == #"{"round":\#(round)}"# || (read?.version ?? 0) > event.sequence)
                    }
                }
                group.addTask {
                    var seen: UInt64 = 0
                    for _ in 0..<400 {
                        let version = try await store.resource(at: path)?.version ?? 0
                        #expect(version >= seen, "a later read went back in time")
                        seen = version
                    }
                }
            }
            try await group.waitForAll()
        }
        for path in paths {
            #expect(try await store.resource(at: path)?.value == #"{"round":100}"#)
        }
        #expect(cache(of: store)?.count == paths.count)
        await fixture.remove()
    }

    /// PostgreSQL: another node's commit is read at once, before this node's follower has
    /// published it (here it never does), though the old value is in this node's cache.
    @Test func aCommitOnAnotherNodeIsReadAtOnce() async throws {
        let fixture = try await StoreFixture.make()
        guard fixture.store is PostgresStore else {
            await fixture.remove()
            return
        }
        let other = try await fixture.reopen()
        let path = try ResourcePath(parsing: "/shared/a")
        try await fixture.put("/shared/a", #"{"n":1}"#)
        #expect(try await other.resource(at: path)?.value == #"{"n":1}"#)
        #expect(cache(of: other)?.count == 1)
        for round in 2...20 {
            try await fixture.put("/shared/a", #"{"n":\#(round)}"#)
            #expect(try await other.resource(at: path)?.value == #"{"n":\#(round)}"#)
        }
        try await other.close()
        await fixture.remove()
    }
}
