/// The store seam: every backend (embedded SQLite, PostgreSQL) implements this, and nothing
/// above it knows which one runs.
public protocol ResourceStore: RegistrationStore, LeaseStore {
    /// A random id of this log, fixed when it is created. Resume tokens and ETags carry it so
    /// that a token from another (or a reset) log is recognised instead of misread.
    var epoch: String { get }

    /// This process's name among the nodes sharing the store: it holds leases under it. An
    /// embedded store has one process, which may only be replaced by itself, so its name is
    /// fixed and a restart keeps its leases.
    var nodeID: String { get }

    /// Registers the function that receives committed events, in sequence order, after their
    /// transaction committed. Set once, before the first write.
    func setCommitListener(_ listener: @escaping @Sendable ([ChangeEvent]) -> Void)

    /// The object at `path`, or nil when it does not exist (never created, or deleted).
    func resource(at path: ResourcePath) async throws -> StoredResource?

    /// Live children of `collection`, ordered by creation.
    func children(of collection: ResourcePath, limit: Int, descending: Bool) async throws -> [StoredResource]

    /// Whether any resource, live or deleted, was ever stored below `collection`.
    func collectionExists(_ collection: ResourcePath) async throws -> Bool

    func commit(_ mutation: Mutation) async throws -> CommitOutcome

    /// Commits every one of `mutations` in one transaction, or none of them: a write that
    /// would be refused (any outcome but `.committed`) or fails leaves the store untouched, so
    /// a document and the entries that point at it never exist one without the other.
    func commit(all mutations: [Mutation]) async throws -> BatchOutcome

    /// Live children of `collection` created in `[from, to)` (milliseconds), by creation time.
    func timeline(of collection: ResourcePath, from: Int64, to: Int64, descending: Bool, limit: Int) async throws -> [StoredResource]

    /// The creation time of the newest live child created before `before`, or (with
    /// `atOrAfter`) of the oldest created at or after it; nil when there is none.
    func timelineNeighbour(of collection: ResourcePath, before: Int64?, atOrAfter: Int64?) async throws -> Int64?

    /// Events after `sequence` that match `filter`, in sequence order, at most `limit`.
    /// Throws `StoreError.historyTruncated` when events after `sequence` are no longer retained.
    func events(after sequence: SequenceNumber, matching filter: SubscriptionFilter?, limit: Int) async throws -> [ChangeEvent]

    /// The sequence number of the newest committed event (0 for an empty log).
    func headSequence() async throws -> SequenceNumber

    /// The oldest position a reader may resume from: events after it are all retained.
    func retainedFloor() async throws -> SequenceNumber

    /// Drops events beyond the retention policy; returns how many were removed.
    func applyRetention(_ policy: RetentionPolicy, now: Int64) async throws -> Int

    func close() async throws
}

public struct RetentionPolicy: Sendable, Equatable {
    /// Keep at most this many events.
    public var maximumEvents: Int
    /// Drop events older than this many seconds.
    public var maximumAgeSeconds: Int

    public init(maximumEvents: Int = 1_000_000, maximumAgeSeconds: Int = 7 * 24 * 3600) {
        self.maximumEvents = maximumEvents
        self.maximumAgeSeconds = maximumAgeSeconds
    }
}

public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The events after the asked position were dropped by retention: the reader must resync.
    case historyTruncated(requested: SequenceNumber, floor: SequenceNumber)
    /// The asked position is ahead of the log: it came from another or a reset log.
    case positionFromTheFuture(requested: SequenceNumber, head: SequenceNumber)
    case closed
    /// The database cannot be reached right now (a shared store restarting, a network cut);
    /// the request may be tried again.
    case unavailable(reason: String)

    public var description: String {
        switch self {
        case .historyTruncated(let requested, let floor):
            "events after \(requested) are no longer retained (oldest resumable position is \(floor))"
        case .positionFromTheFuture(let requested, let head):
            "position \(requested) is ahead of the log (head is \(head))"
        case .closed: "the store is closed"
        case .unavailable(let reason): "the store cannot be reached: \(reason)"
        }
    }
}

/// Something a client asked the server to keep doing for it — a webhook, a notification
/// channel — with the log position it has been served up to. Kept by the store so it survives
/// restarts and, with a shared store, is served by whichever node holds it.
public struct StoredRegistration: Sendable, Hashable {
    public let id: String
    /// Which feature owns it (`lr-webhook`, `solid-channel`, …).
    public let kind: String
    /// The subject that made it, nil when anonymous.
    public let subject: String?
    /// The feature's own description of it, as JSON text.
    public let payload: String
    /// Events up to this position have been handled.
    public var cursor: SequenceNumber
    /// Milliseconds since 1970 after which it ends; nil for never.
    public let expiresAt: Int64?
    /// The capability that names it to whoever holds it (a channel's `receiveFrom`), unique
    /// among all registrations and looked up by its exact bytes; nil when it has none.
    public let token: String?

    public init(
        id: String, kind: String, subject: String?, payload: String, cursor: SequenceNumber, expiresAt: Int64? = nil, token: String? = nil
    ) {
        self.id = id
        self.kind = kind
        self.subject = subject
        self.payload = payload
        self.cursor = cursor
        self.expiresAt = expiresAt
        self.token = token
    }
}

/// Registrations live beside the resources in every store.
public protocol RegistrationStore: Sendable {
    /// Creates or replaces the registration with this id.
    func saveRegistration(_ registration: StoredRegistration) async throws
    /// Creates the registration unless one with its id exists; returns whether it was created.
    /// Nodes starting together race through this, and exactly one wins.
    func createRegistration(_ registration: StoredRegistration) async throws -> Bool
    /// Returns whether it existed.
    func deleteRegistration(id: String) async throws -> Bool
    func registrations(kind: String) async throws -> [StoredRegistration]
    func registration(id: String) async throws -> StoredRegistration?
    /// The registration whose token has exactly these bytes: one indexed lookup, whatever the
    /// number of registrations (an unknown token may come from anyone).
    func registration(token: String) async throws -> StoredRegistration?
    /// Records that events up to `cursor` were handled (never moves backwards).
    func advanceRegistration(id: String, to cursor: SequenceNumber) async throws
    /// How many registrations of `kind` count against `owner`, counted through an index
    /// without reading them: a quota is checked on every create, which anyone may send.
    func registrationCount(kind: String, owner: RegistrationOwner) async throws -> Int
}

/// Whom a registration counts against in a quota.
public enum RegistrationOwner: Sendable, Hashable {
    /// The registrations this subject made; subjects compare by their bytes.
    case subject(String)
    /// The anonymous registrations whose payload begins with exactly these bytes (where the
    /// server keeps the address an anonymous caller came from).
    case anonymous(payloadPrefix: String)

    /// How many leading characters of a registration's payload the stores index. Fixed by the
    /// stores' migrations that build the index.
    public static let indexedPrefixCharacters = 96

    /// The range of indexed payload beginnings holding exactly those that begin with
    /// `prefix`, in byte order: from `prefix` up to `prefix` with its last byte raised by one.
    /// Nil when the index cannot answer (a prefix longer than the indexed part, or not ending
    /// in an ASCII character): the stores then compare each anonymous registration's beginning.
    public static func indexedRange(of prefix: String) -> (from: String, upTo: String)? {
        guard prefix.unicodeScalars.count <= indexedPrefixCharacters, let last = prefix.utf8.last, last < 0x7F else { return nil }
        return (prefix, String(decoding: prefix.utf8.dropLast() + [last + 1], as: UTF8.self))
    }
}

/// Work that must happen on one node at a time (webhook deliveries, retention) is guarded by a
/// lease kept in the store: whoever holds it does the work, and when a node dies its lease
/// runs out and another node takes over.
public protocol LeaseStore: Sendable {
    /// Takes the lease `name` for `holder`, or renews it when `holder` already has it, for
    /// `seconds`. Returns false while another holder's lease is still running.
    func acquireLease(_ name: String, holder: String, seconds: Double) async throws -> Bool
    /// Gives the lease up early (a clean shutdown), so another node need not wait for it to run out.
    func releaseLease(_ name: String, holder: String) async throws
}
