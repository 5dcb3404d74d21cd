import EddyCore
import Synchronization

/// A store that counts how the server reads registrations, and can play another node holding
/// a lease (so that the lease's periodic work stays out of a count).
final class CountingStore: ResourceStore {
    private let base: any ResourceStore
    private let leaseHeldElsewhere: String?
    private let counts = Mutex<[String: Int]>([:])

    init(_ base: any ResourceStore, leaseHeldElsewhere: String? = nil) {
        self.base = base
        self.leaseHeldElsewhere = leaseHeldElsewhere
    }

    /// Reads of every registration of `kind`.
    func listings(of kind: String) -> Int { count("registrations:" + kind) }
    var tokenLookups: Int { count("token") }
    /// Counts of one owner's registrations of `kind`.
    func ownerCounts(of kind: String) -> Int { count("owner:" + kind) }

    private func count(_ key: String) -> Int { counts.withLock { $0[key, default: 0] } }
    private func note(_ key: String) { counts.withLock { $0[key, default: 0] += 1 } }

    var epoch: String { base.epoch }
    var nodeID: String { base.nodeID }
    func setCommitListener(_ listener: @escaping @Sendable ([ChangeEvent]) -> Void) { base.setCommitListener(listener) }
    func resource(at path: ResourcePath) async throws -> StoredResource? { try await base.resource(at: path) }
    func children(of collection: ResourcePath, limit: Int, descending: Bool) async throws -> [StoredResource] {
        try await base.children(of: collection, limit: limit, descending: descending)
    }
    func collectionExists(_ collection: ResourcePath) async throws -> Bool { try await base.collectionExists(collection) }
    func commit(_ mutation: Mutation) async throws -> CommitOutcome { try await base.commit(mutation) }
    func commit(all mutations: [Mutation]) async throws -> BatchOutcome { try await base.commit(all: mutations) }
    func timeline(of collection: ResourcePath, from: Int64, to: Int64, descending: Bool, limit: Int) async throws -> [StoredResource] {
        try await base.timeline(of: collection, from: from, to: to, descending: descending, limit: limit)
    }
    func timelineNeighbour(of collection: ResourcePath, before: Int64?, atOrAfter: Int64?) async throws -> Int64? {
        try await base.timelineNeighbour(of: collection, before: before, atOrAfter: atOrAfter)
    }
    func events(after sequence: SequenceNumber, matching filter: SubscriptionFilter?, limit: Int) async throws -> [ChangeEvent] {
        try await base.events(after: sequence, matching: filter, limit: limit)
    }
    func headSequence() async throws -> SequenceNumber { try await base.headSequence() }
    func retainedFloor() async throws -> SequenceNumber { try await base.retainedFloor() }
    func applyRetention(_ policy: RetentionPolicy, now: Int64) async throws -> Int { try await base.applyRetention(policy, now: now) }
    func close() async throws { try await base.close() }

    func saveRegistration(_ registration: StoredRegistration) async throws { try await base.saveRegistration(registration) }
    func createRegistration(_ registration: StoredRegistration) async throws -> Bool { try await base.createRegistration(registration) }
    func deleteRegistration(id: String) async throws -> Bool { try await base.deleteRegistration(id: id) }
    func registrations(kind: String) async throws -> [StoredRegistration] {
        note("registrations:" + kind)
        return try await base.registrations(kind: kind)
    }
    func registration(id: String) async throws -> StoredRegistration? { try await base.registration(id: id) }
    func registration(token: String) async throws -> StoredRegistration? {
        note("token")
        return try await base.registration(token: token)
    }
    func advanceRegistration(id: String, to cursor: SequenceNumber) async throws { try await base.advanceRegistration(id: id, to: cursor) }
    func registrationCount(kind: String, owner: RegistrationOwner) async throws -> Int {
        note("owner:" + kind)
        return try await base.registrationCount(kind: kind, owner: owner)
    }

    func acquireLease(_ name: String, holder: String, seconds: Double) async throws -> Bool {
        if let leaseHeldElsewhere, name.hasSameBytes(as: leaseHeldElsewhere) { return false }
        return try await base.acquireLease(name, holder: holder, seconds: seconds)
    }
    func releaseLease(_ name: String, holder: String) async throws { try await base.releaseLease(name, holder: holder) }
}
