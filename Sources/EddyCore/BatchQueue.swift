import Dispatch
import Synchronization

/// The queue behind group commit: items submitted while a batch is being written wait, then
/// go together in the next batch, so one transaction (one fsync) serves many writers. Batches
/// are written one at a time, in submission order; each submitter gets its own item's result.
///
/// Inlinable, so that the store using it gets a copy specialised for its items: unspecialised,
/// every batch looked up the metadata of its generic types (the pending items, their
/// continuations, the results) at run time, about 27,000 instructions per lone write.
public final class BatchQueue<Item: Sendable, Output: Sendable>: Sendable {
    /// Writes one batch; returns one result per item, in order.
    public typealias Write = @Sendable ([Item]) async -> [Result<Output, any Error>]
    /// Writes one batch on the thread it is called on, blocking it until the batch is written.
    public typealias BlockingWrite = @Sendable ([Item]) -> [Result<Output, any Error>]

    @usableFromInline
    enum Writer: Sendable {
        case async(Write)
        /// Drained on a dispatch queue of its own, off Swift's pool.
        case blocking(BlockingWrite, DispatchQueue)
    }

    @usableFromInline
    struct Pending {
        @usableFromInline let item: Item
        @usableFromInline let continuation: CheckedContinuation<Output, any Error>

        @inlinable
        init(item: Item, continuation: CheckedContinuation<Output, any Error>) {
            self.item = item
            self.continuation = continuation
        }
    }

    @usableFromInline
    struct State {
        @usableFromInline var queue: [Pending] = []
        @usableFromInline var draining = false

        @inlinable init() {}
    }

    @usableFromInline let state = Mutex(State())
    @usableFromInline let maximumBatch: Int
    @usableFromInline let writer: Writer

    public init(maximumBatch: Int, write: @escaping Write) {
        self.maximumBatch = maximumBatch
        self.writer = .async(write)
    }

    /// Batches drained on a thread of their own, which `write` blocks. A writer that can write
    /// synchronously (SQLite) then costs a submitter one hand-over to that thread and one back,
    /// where an async drain costs a task, a hand-over to the writer's own thread, one back to
    /// Swift's pool to resume the drain, and only then the submitter's.
    public init(maximumBatch: Int, label: String, blockingWrite: @escaping BlockingWrite) {
        self.maximumBatch = maximumBatch
        self.writer = .blocking(blockingWrite, DispatchQueue(label: label))
    }

    @inlinable
    public func submit(_ item: Item) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let startDrain = state.withLock { state in
                state.queue.append(Pending(item: item, continuation: continuation))
                guard !state.draining else { return false }
                state.draining = true
                return true
            }
            guard startDrain else { return }
            switch writer {
            case .async(let write): Task { await self.drain(write) }
            case .blocking(let write, let queue): queue.async { self.drain(write) }
            }
        }
    }

    /// Items submitted and not yet taken into a batch.
    var waiting: Int { state.withLock { $0.queue.count } }

    /// The next batch, or an empty one once the queue is empty (and then no longer draining).
    @inlinable
    func takeBatch() -> [Pending] {
        state.withLock { state in
            let taken = Array(state.queue.prefix(maximumBatch))
            state.queue.removeFirst(taken.count)
            if taken.isEmpty { state.draining = false }
            return taken
        }
    }

    @inlinable
    func drain(_ write: Write) async {
        while true {
            let batch = takeBatch()
            if batch.isEmpty { return }
            // A closure, not `\.item`: a key path into a generic type is instantiated at run time,
            // demangling its type's name, on every use: several microseconds per batch.
            Self.resume(batch, with: await write(batch.map { $0.item }))
        }
    }

    @inlinable
    func drain(_ write: BlockingWrite) {
        while true {
            let batch = takeBatch()
            if batch.isEmpty { return }
            Self.resume(batch, with: write(batch.map { $0.item }))
        }
    }

    @inlinable
    static func resume(_ batch: [Pending], with results: [Result<Output, any Error>]) {
        for index in batch.indices {
            batch[index].continuation.resume(with: index < results.count ? results[index] : .failure(BatchQueueError.noResult))
        }
    }
}

public enum BatchQueueError: Error {
    /// The batch writer returned fewer results than items (a bug in the writer).
    case noResult
}
