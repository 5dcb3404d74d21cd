import EddyCore
import Synchronization

/// Recently read resources, answered without a trip to a reader connection: that trip hands the
/// request to GRDB's reader queue and back, two thread wake-ups that cost more than the read.
///
/// The cache answers exactly what the database would, because every write to this store passes
/// through this process (`GroupCommit` and batches):
/// - Before a write's transaction begins, its paths are dropped and marked as being written;
///   while marked, a path is neither answered nor filled from here.
/// - After the transaction ends (committed or not), its paths, and those of every event it
///   committed, are dropped again and unmarked, and the generation moves on.
/// - A read that missed fills the cache only if no write ended while it read (the generation is
///   unchanged) and none of its path is under way: a snapshot taken before a commit is never kept
///   after it.
///
/// Bounded by entries and by the bytes of the values it holds; the oldest filled is dropped
/// first. Values larger than a sixty-fourth of the budget are never kept.
final class ResourceCache: Sendable {
    struct Limits: Sendable {
        var entries: Int
        var bytes: Int

        static let disabled = Limits(entries: 0, bytes: 0)
    }

    /// What a lookup found: a resource, or where to come back with what the database said.
    enum Lookup: Sendable {
        case hit(StoredResource)
        case miss(Ticket)
    }

    /// Proof of the state a miss saw; a fill with a stale ticket is ignored.
    struct Ticket: Sendable {
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
        /// Writes under way per path (a path can be in several queued batches' transactions only
        /// one at a time, but a batch may name it twice).
        var writing: [ResourcePath: Int] = [:]
    }

    let limits: Limits
    private let state: Mutex<State>

    init(limits: Limits) {
        self.limits = Limits(entries: max(0, limits.entries), bytes: max(0, limits.bytes))
        state = Mutex(State(ring: Array(repeating: nil, count: self.limits.entries)))
    }

    var isEnabled: Bool { limits.entries > 0 && limits.bytes > 0 }

    /// Number of resources held, for tests and metrics.
    var count: Int { state.withLock { $0.entries.count } }

    func lookup(_ path: ResourcePath) -> Lookup {
        state.withLock { state in
            if let entry = state.entries[path] { return .hit(entry.resource) }
            return .miss(Ticket(generation: state.generation))
        }
    }

    /// Keeps what a reader found after `lookup` missed, unless a write may have changed it since.
    func fill(_ resource: StoredResource, ticket: Ticket) {
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
    func beginWriting(_ paths: [ResourcePath]) {
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
    func endWriting(_ paths: [ResourcePath], committed: [ResourcePath]) {
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
