import EddyCore
@testable import EddyPostgres
@testable import EddySQLite
import Foundation
import GRDB
import PostgresNIO
import Testing

/// A quota counts one owner's registrations of a kind on every create, which anyone may send:
/// the store counts them by their bytes through an index, without reading the kind's others.
@Suite struct RegistrationCountTests {
    static let kind = "lr-webhook"

    static func anonymous(_ address: String) -> String { #"{"registeredFrom":"# + JSONValue.quoted(address) }

    static func save(_ store: any ResourceStore, _ id: String, kind: String = kind, subject: String?, payload: String) async throws {
        try await store.saveRegistration(StoredRegistration(id: id, kind: kind, subject: subject, payload: payload, cursor: 0))
    }

    @Test func ownersAreCountedByTheirBytesWithinAKind() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let store = fixture.store
        let composed = "caf\u{e9}", decomposed = "cafe\u{301}"
        try await Self.save(store, "a1", subject: nil, payload: Self.anonymous("10.0.0.1") + ",\"n\":1}")
        try await Self.save(store, "a2", subject: nil, payload: Self.anonymous("10.0.0.1") + "}")
        try await Self.save(store, "a3", subject: nil, payload: Self.anonymous("10.0.0.12") + "}")
        try await Self.save(store, "a4", kind: "solid-channel", subject: nil, payload: Self.anonymous("10.0.0.1") + "}")
        // A subject's payload that happens to begin the same way is the subject's, not the address's.
        try await Self.save(store, "s1", subject: composed, payload: Self.anonymous("10.0.0.1") + "}")
        try await Self.save(store, "s2", subject: composed, payload: "{}")
        try await Self.save(store, "s3", subject: decomposed, payload: "{}")
        try await Self.save(store, "s4", kind: "solid-channel", subject: composed, payload: "{}")

        #expect(try await store.registrationCount(kind: Self.kind, owner: .anonymous(payloadPrefix: Self.anonymous("10.0.0.1"))) == 2)
        #expect(try await store.registrationCount(kind: Self.kind, owner: .anonymous(payloadPrefix: Self.anonymous("10.0.0.12"))) == 1)
        #expect(try await store.registrationCount(kind: Self.kind, owner: .anonymous(payloadPrefix: Self.anonymous("10.0.0.2"))) == 0)
        #expect(try await store.registrationCount(kind: "solid-channel", owner: .anonymous(payloadPrefix: Self.anonymous("10.0.0.1"))) == 1)
        #expect(try await store.registrationCount(kind: Self.kind, owner: .subject(composed)) == 2)
        #expect(try await store.registrationCount(kind: Self.kind, owner: .subject(decomposed)) == 1)
        #expect(try await store.registrationCount(kind: Self.kind, owner: .subject("caf")) == 0)
        #expect(try await store.registrationCount(kind: "solid-channel", owner: .subject(composed)) == 1)

        _ = try await store.deleteRegistration(id: "a1")
        _ = try await store.deleteRegistration(id: "s2")
        #expect(try await store.registrationCount(kind: Self.kind, owner: .anonymous(payloadPrefix: Self.anonymous("10.0.0.1"))) == 1)
        #expect(try await store.registrationCount(kind: Self.kind, owner: .subject(composed)) == 1)
    }

    /// Beginnings the index cannot answer — longer than its part of the payload, or ending in a
    /// character beyond ASCII — are still counted exactly; and a subject longer than the part
    /// of it the PostgreSQL index holds is stored and counted.
    @Test func unindexableBeginningsAndLongSubjectsAreStillCountedExactly() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        let store = fixture.store
        let long = Self.anonymous(String(repeating: "a", count: 120))
        let sameIndexedPart = Self.anonymous(String(repeating: "a", count: 119) + "b")
        try await Self.save(store, "l1", subject: nil, payload: long + "}")
        try await Self.save(store, "l2", subject: nil, payload: long + ",\"n\":2}")
        try await Self.save(store, "l3", subject: nil, payload: sameIndexedPart + "}")
        #expect(RegistrationOwner.indexedRange(of: long) == nil)
        #expect(try await store.registrationCount(kind: Self.kind, owner: .anonymous(payloadPrefix: long)) == 2)

        let accented = #"{"registeredFrom":"h\#u{f4}"#
        try await Self.save(store, "u1", subject: nil, payload: accented + "te\"}")
        try await Self.save(store, "u2", subject: nil, payload: #"{"registeredFrom":"h\#u{f5}te"}"#)
        try await Self.save(store, "u3", subject: nil, payload: #"{"registeredFrom":"ho\#u{302}te"}"#)
        #expect(RegistrationOwner.indexedRange(of: accented) == nil)
        #expect(try await store.registrationCount(kind: Self.kind, owner: .anonymous(payloadPrefix: accented)) == 1)

        let subject = String(repeating: "s", count: 5000)
        try await Self.save(store, "t1", subject: subject, payload: "{}")
        try await Self.save(store, "t2", subject: subject + "t", payload: "{}")
        #expect(try await store.registrationCount(kind: Self.kind, owner: .subject(subject)) == 1)
    }

    @Test func theIndexedRangeHoldsExactlyTheBeginningsWithThePrefix() throws {
        let range = try #require(RegistrationOwner.indexedRange(of: Self.anonymous("10.0.0.1")))
        #expect(range.from == #"{"registeredFrom":"10.0.0.1""#)
        #expect(range.upTo == #"{"registeredFrom":"10.0.0.1#"#)
        for inside in [Self.anonymous("10.0.0.1") + "}", Self.anonymous("10.0.0.1") + ",\"x\":1}"] {
            #expect(Array(inside.utf8).lexicographicallyPrecedes(range.upTo.utf8) && !Array(inside.utf8).lexicographicallyPrecedes(range.from.utf8))
        }
        for outside in [Self.anonymous("10.0.0.12"), Self.anonymous("10.0.0.0"), Self.anonymous("10.0.0.2")] {
            let bytes = Array(outside.utf8)
            #expect(bytes.lexicographicallyPrecedes(range.from.utf8) || !bytes.lexicographicallyPrecedes(range.upTo.utf8))
        }
    }

    /// The count's plan searches `registrations_by_owner` for both kinds of owner, so it reads
    /// that owner's index entries, not the kind's registrations.
    @Test func theCountSearchesTheOwnerIndex() async throws {
        let fixture = try await StoreFixture.make()
        defer { Task { await fixture.remove() } }
        for index in 0..<200 {
            let subject = index.isMultiple(of: 2) ? nil : "subject\(index % 7)"
            try await Self.save(fixture.store, "o\(index)", subject: subject, payload: Self.anonymous("10.0.\(index % 9).1") + "}")
        }
        let owners: [RegistrationOwner] = [.subject("subject3"), .anonymous(payloadPrefix: Self.anonymous("10.0.3.1"))]
        for owner in owners {
            let plan: String
            if let sqlite = fixture.store as? SQLiteStore {
                let query = SQLiteStore.ownerCount(kind: Self.kind, owner: owner)
                plan = try await sqlite.writer.read { db in
                    try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + query.sql, arguments: query.arguments).map { $0["detail"] as String }
                        .joined(separator: "\n")
                }
            } else {
                let postgres = try #require(fixture.store as? PostgresStore)
                let query = PostgresStore.ownerCount(kind: Self.kind, owner: owner)
                plan = try await postgres.client.withConnection { connection in
                    // With so few rows a sequential scan would be cheaper; the question is whether the index can answer.
                    try await connection.query("SET enable_seqscan = off", logger: postgres.logger)
                    var lines: [String] = []
                    for try await line in try await connection.query(
                        PostgresQuery(unsafeSQL: "EXPLAIN " + query.sql, binds: query.binds), logger: postgres.logger
                    ).decode(String.self) { lines.append(line) }
                    try await connection.query("RESET enable_seqscan", logger: postgres.logger)
                    return lines.joined(separator: "\n")
                }
            }
            #expect(plan.contains("registrations_by_owner"), "\(owner): \(plan)")
            #expect(!plan.contains("Seq Scan") && !plan.contains("SCAN registrations"), "\(owner): \(plan)")
        }
    }
}
