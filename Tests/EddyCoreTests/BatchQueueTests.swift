import Dispatch
@testable import EddyCore
import Synchronization
import Testing

/// Group commit's queue, with either kind of writer: what arrives during a batch goes in the
/// next one, batches are written one at a time in order, and each submitter gets its own result.
@Suite struct BatchQueueTests {
    enum Writer: CaseIterable { case async, blocking }

    /// The first batch's write waits until the test opens it; the batches are recorded.
    private final class Recorder: Sendable {
        let batches = Mutex<[[Int]]>([])
        let firstStarted = Mutex(false)
        private let opened = DispatchSemaphore(value: 0)
        /// Whether `open()` ran, and the async write waiting for it, if any.
        private let gate = Mutex<(isOpen: Bool, waiting: CheckedContinuation<Void, Never>?)>((false, nil))

        func record(_ items: [Int]) -> Bool {
            batches.withLock { batches in
                batches.append(items)
                return batches.count == 1
            }
        }

        func holdBlocking() {
            firstStarted.withLock { $0 = true }
            opened.wait()
        }

        func hold() async {
            await withCheckedContinuation { continuation in
                let open = gate.withLock { gate in
                    if !gate.isOpen { gate.waiting = continuation }
                    return gate.isOpen
                }
                firstStarted.withLock { $0 = true }
                if open { continuation.resume() }
            }
        }

        func open() {
            opened.signal()
            let waiting = gate.withLock { gate in
                gate.isOpen = true
                return gate.waiting.take()
            }
            waiting?.resume()
        }
    }

    /// Item `n` succeeds with `n * 10`; a negative item fails.
    private static func results(_ items: [Int]) -> [Result<Int, any Error>] {
        items.map { $0 < 0 ? .failure(Refused()) : .success($0 * 10) }
    }

    struct Refused: Error {}

    private func queue(_ writer: Writer, recorder: Recorder, maximumBatch: Int = 64) -> BatchQueue<Int, Int> {
        switch writer {
        case .async:
            BatchQueue(maximumBatch: maximumBatch) { items in
                if recorder.record(items) { await recorder.hold() }
                return Self.results(items)
            }
        case .blocking:
            BatchQueue(maximumBatch: maximumBatch, label: "eddy.test.batch") { items in
                if recorder.record(items) { recorder.holdBlocking() }
                return Self.results(items)
            }
        }
    }

    @Test(arguments: Writer.allCases)
    func writesArrivingDuringABatchGoTogetherInTheNextOneInOrder(_ writer: Writer) async throws {
        let recorder = Recorder()
        let queue = queue(writer, recorder: recorder)
        async let first = queue.submit(1)
        try await waitUntil { recorder.firstStarted.withLock { $0 } }
        // Submitted one after another, so their order is known, while the first batch is held.
        var later: [Task<Int, any Error>] = []
        for item in 2...6 {
            later.append(Task { try await queue.submit(item) })
            try await waitUntil { queue.waiting == item - 1 }
        }
        recorder.open()
        #expect(try await first == 10)
        for (index, task) in later.enumerated() { #expect(try await task.value == (index + 2) * 10) }
        #expect(recorder.batches.withLock { $0 } == [[1], [2, 3, 4, 5, 6]])
        #expect(queue.waiting == 0)
    }

    @Test(arguments: Writer.allCases)
    func eachSubmitterGetsItsOwnResultAndBatchesKeepTheirLimit(_ writer: Writer) async throws {
        let recorder = Recorder()
        recorder.open()
        let queue = queue(writer, recorder: recorder, maximumBatch: 4)
        let outcomes = await withTaskGroup(of: (Int, Int?).self) { group in
            for item in -20...20 { group.addTask { (item, try? await queue.submit(item)) } }
            return await group.reduce(into: [Int: Int?]()) { $0[$1.0] = $1.1 }
        }
        for item in -20...20 { #expect(outcomes[item] == (item < 0 ? nil : item * 10)) }
        let batches = recorder.batches.withLock { $0 }
        #expect(batches.allSatisfy { $0.count <= 4 })
        #expect(batches.flatMap { $0 }.sorted() == Array(-20...20))
    }

    @Test(arguments: Writer.allCases)
    func aWriterThatReturnsTooFewResultsFailsTheRestInsteadOfLeavingThemWaiting(_ writer: Writer) async throws {
        let short: BatchQueue<Int, Int>
        switch writer {
        case .async: short = BatchQueue(maximumBatch: 8) { _ in [] }
        case .blocking: short = BatchQueue(maximumBatch: 8, label: "eddy.test.short") { _ in [] }
        }
        await #expect(throws: BatchQueueError.self) { try await short.submit(1) }
    }
}
