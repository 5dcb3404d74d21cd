import EddyCore
import Synchronization

/// The shared log's head as of some moment after the caller asked, one query for many callers.
///
/// A read answered from memory must see every commit that ended before the read began, on any
/// node; this node learns of other nodes' commits a few milliseconds late. So a read asks for the
/// head, and is answered from memory only once the log follower has published up to it. Callers
/// that ask while a query is in flight wait for the next one, sent after they asked, and share
/// it: under load one round trip serves many reads.
final class HeadBarrier: Sendable {
    typealias Query = @Sendable () async throws -> SequenceNumber

    private struct State {
        var querying = false
        var waiting: [CheckedContinuation<SequenceNumber, any Error>] = []
    }

    private let query: Query
    private let state = Mutex(State())

    init(query: @escaping Query) {
        self.query = query
    }

    func head() async throws -> SequenceNumber {
        try await withCheckedThrowingContinuation { continuation in
            let start = state.withLock { state in
                state.waiting.append(continuation)
                if state.querying { return false }
                state.querying = true
                return true
            }
            if start { Task { await self.serve() } }
        }
    }

    private func serve() async {
        while true {
            let batch = state.withLock { state in
                if state.waiting.isEmpty { state.querying = false }
                defer { state.waiting = [] }
                return state.waiting
            }
            if batch.isEmpty { return }
            do {
                let head = try await query()
                for waiter in batch { waiter.resume(returning: head) }
            } catch {
                for waiter in batch { waiter.resume(throwing: error) }
            }
        }
    }
}
