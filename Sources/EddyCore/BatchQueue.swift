import Synchronization

/// The queue behind group commit: items submitted while a batch is being written wait, then
/// go together in the next batch, so one transaction (one fsync) serves many writers. Batches
/// are written one at a time, in submission order; each submitter gets its own item's result.
public final class BatchQueue<Item: Sendable, Output: Sendable>: Sendable {
    /// Writes one batch; returns one result per item, in order.
    public typealias Write = @Sendable ([Item]) async -> [Result<Output, any Error>]

    private struct Pending {
        let item: Item
        let continuation: CheckedContinuation<Output, any Error>
    }

    private struct State {
        var queue: [Pending] = []
        var draining = false
    }

    private let state = Mutex(State())
    private let maximumBatch: Int
    private let write: Write

    public init(maximumBatch: Int, write: @escaping Write) {
        self.maximumBatch = maximumBatch
        self.write = write
    }

    public func submit(_ item: Item) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let startDrain = state.withLock { state in
                state.queue.append(Pending(item: item, continuation: continuation))
                guard !state.draining else { return false }
                state.draining = true
                return true
            }
            if startDrain { Task { await self.drain() } }
        }
    }

    private func drain() async {
        while true {
            let batch: [Pending] = state.withLock { state in
                let taken = Array(state.queue.prefix(maximumBatch))
                state.queue.removeFirst(taken.count)
                if taken.isEmpty { state.draining = false }
                return taken
            }
            if batch.isEmpty { return }
            // A closure, not `\.item`: a key path into a generic type is instantiated at run time,
            // demangling its type's name, on every use: several microseconds per batch.
            let results = await write(batch.map { $0.item })
            for (index, pending) in batch.enumerated() {
                pending.continuation.resume(with: index < results.count ? results[index] : .failure(BatchQueueError.noResult))
            }
        }
    }
}

public enum BatchQueueError: Error {
    /// The batch writer returned fewer results than items (a bug in the writer).
    case noResult
}
