import Synchronization

/// Recently read resources, answered without a trip to a reader connection: that trip hands the
/// request to GRDB's reader queue and back, two thread wake-ups that cost more than the read.
///
/// The cache answers what the database would, given that the store tells it of every commit:
/// - A store that knows a write's paths before it commits (SQLite's single writer) calls
///   `beginWriting`: the paths are dropped and marked, and while marked a path is neither
///   answered nor filled from here.
/// - Once a transaction has ended, `endWriting` drops its paths and those of every event it
///   committed again, unmarks them, and moves the generation on. PostgreSQL's store calls it with
///   the events its log follower reads, from every node, before they are published; it answers
///   from here only when the follower has reached the log's head as of after the read began.
/// - A read that missed fills the cache only if no write ended while it read (the generation is
///   unchanged) and no write to its path is under way: a snapshot taken before a commit is never
///   kept after the commit is known.
///
/// Bounded by entries and by the bytes of the values it holds; the oldest filled is dropped
/// first. Values larger than a sixty-fourth of the budget are never kept.
public final class ResourceCache: Sendable {
    public struct Limits: Sendable {
        public var entries: Int
        public var bytes: Int

        public init(entries: Int, bytes: Int) {
            self.entries = entries
            self.bytes = bytes
        }

        public static let disabled = Limits(entries: 0, bytes: 0)
        /// 16 MiB of values, 8,192 resources.
        public static let standard = Limits(entries: 8192, bytes: 16 << 20)
    }

    /// What a lookup found: a resource, or where to come back with what the database said.
    public enum Lookup: Sendable {
        case hit(StoredResource)
        case miss(Ticket)
    }

    /// Proof of the state a miss saw; a fill with a stale ticket is ignored.
    public struct Ticket: Sendable {
        fileprivate let generation: UInt64
    }

    private struct Entry {
        let resource: StoredResource
        let slot: Int
        let bytes: Int
    }

    private struct State {
        var entries: [ResourcePath: Entry] = [:]
        /// Paths in fill order, as a ring: the slot under `next` is the oldest and goes first.
        var ring: [ResourcePath?]
        var next = 0
        var bytes = 0
        var generation: UInt64 = 0
        /// Writes under way per path, counted: a batch may name a path twice, and SQLite's
        /// all-or-nothing batches are marked while a group commit naming the same path may be.
        var writing: [ResourcePath: Int] = [:]
    }

    public let limits: Limits
    private let state: Mutex<State>

    public init(limits: Limits) {
        self.limits = Limits(entries: max(0, limits.entries), bytes: max(0, limits.bytes))
        state = Mutex(State(ring: Array(repeating: nil, count: self.limits.entries)))
    }

    public var isEnabled: Bool { limits.entries > 0 && limits.bytes > 0 }

    /// Number of resources held, for tests.
    public var count: Int { state.withLock { $0.entries.count } }

    public func lookup(_ path: ResourcePath) -> Lookup {
        state.withLock { state in
            if let entry = state.entries[path] { return .hit(entry.resource) }
            return .miss(Ticket(generation: state.generation))
        }
    }

    /// Keeps what a reader found after `lookup` missed, unless a write may have changed it since.
    public func fill(_ resource: StoredResource, ticket: Ticket) {
        let bytes = resource.value.utf8.count + resource.path.description.utf8.count
        guard isEnabled, bytes <= limits.bytes / 64 else { return }
        state.withLock { state in
            guard ticket.generation == state.generation, state.writing[resource.path] == nil,
                state.entries[resource.path] == nil
            else { return }
            // The ring's slot under `next` holds the oldest fill: free it, and the ones after it
            // until the new value fits; it takes the last slot freed.
            while true {
                if let occupant = state.ring[state.next] {
                    if state.entries[occupant]?.slot == state.next { Self.drop(occupant, from: &state) }
                    state.ring[state.next] = nil
                }
                if state.entries.count < limits.entries, state.bytes + bytes <= limits.bytes { break }
                state.next = (state.next + 1) % limits.entries
            }
            state.ring[state.next] = resource.path
            state.entries[resource.path] = Entry(resource: resource, slot: state.next, bytes: bytes)
            state.bytes += bytes
            state.next = (state.next + 1) % limits.entries
        }
    }

    /// Called before a write's transaction begins.
    public func beginWriting(_ paths: [ResourcePath]) {
        guard isEnabled else { return }
        state.withLock { state in
            for path in paths {
                Self.drop(path, from: &state)
                state.writing[path, default: 0] += 1
            }
        }
    }

    /// Called once the transaction has ended, with the paths given to `beginWriting` and those
    /// the committed events name (a child appended to a collection gets its path only here).
    public func endWriting(_ paths: [ResourcePath], committed: [ResourcePath]) {
        guard isEnabled else { return }
        state.withLock { state in
            for path in paths {
                Self.drop(path, from: &state)
                switch state.writing[path] {
                case 1?: state.writing[path] = nil
                case let count?: state.writing[path] = count - 1
                case nil: assertionFailure("endWriting(\(path)) without beginWriting")
                }
            }
            for path in committed { Self.drop(path, from: &state) }
            state.generation &+= 1
        }
    }

    private static func drop(_ path: ResourcePath, from state: inout State) {
        guard let entry = state.entries.removeValue(forKey: path) else { return }
        state.bytes -= entry.bytes
    }
}
