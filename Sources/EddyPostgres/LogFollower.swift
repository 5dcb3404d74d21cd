import EddyCore
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Feeds this node's hub from the shared log. A dedicated connection LISTENs for commit
/// notifications (their payload is only a sequence number); each one — and each local commit,
/// each reconnect and a slow safety tick — wakes one reader that fetches the events after the
/// last one published, in sequence order. Because events are read from the log rather than
/// taken from notifications, a lost notification or a dropped listener loses nothing.
final class LogFollower: Sendable {
    private struct State {
        var published: SequenceNumber
        var waiters: [(SequenceNumber, CheckedContinuation<Void, Never>)] = []
        var started = false
        var tasks: [Task<Void, Never>] = []
    }

    private let client: PostgresClient
    private let location: PostgresLocation
    private let channel: String
    private let nodeID: String
    private let epoch: String
    private let logger: Logger
    private let cache: ResourceCache
    private let state: Mutex<State>
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    /// Read this many events per query; a longer backlog takes several.
    private let pageSize = 500
    private let safetyTick: Duration = .seconds(2)

    init(
        client: PostgresClient, location: PostgresLocation, channel: String, nodeID: String, epoch: String, startAfter: SequenceNumber, cache: ResourceCache,
        logger: Logger
    ) {
        self.client = client
        self.cache = cache
        self.location = location
        self.channel = channel
        self.nodeID = nodeID
        self.epoch = epoch
        self.logger = logger
        state = Mutex(State(published: startAfter))
        (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// The last sequence number handed to the hub; every commit up to it has left the read cache.
    var published: SequenceNumber { state.withLock { $0.published } }

    /// The name of the listening connection in `pg_stat_activity`.
    var listenerApplicationName: String { "eddy-listener-" + nodeID }

    func start(publishing publish: @escaping @Sendable ([ChangeEvent]) -> Void) {
        let wake = self.wake
        let safetyTick = self.safetyTick
        state.withLock { state in
            guard !state.started else { return }
            state.started = true
            state.tasks = [
                Task { await self.follow(publish) },
                Task { await self.listen() },
                Task {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: safetyTick)
                        wake.yield()
                    }
                },
            ]
        }
    }

    /// Wakes the reader now (after a local commit).
    func poke() { wake.yield() }

    /// Returns once events up to `sequence` reached the hub (at once if nothing follows the log).
    func waitUntilPublished(_ sequence: SequenceNumber) async {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state in
                guard state.started, state.published < sequence else { return true }
                state.waiters.append((sequence, continuation))
                return false
            }
            if ready { continuation.resume() } else { wake.yield() }
        }
    }

    func stop() async {
        let (tasks, waiters) = state.withLock { state in
            let taken = (state.tasks, state.waiters)
            state.tasks = []
            state.waiters = []
            return taken
        }
        for task in tasks { task.cancel() }
        wake.finish()
        for task in tasks { await task.value }
        for (_, waiter) in waiters { waiter.resume() }
    }

    private func follow(_ publish: @Sendable ([ChangeEvent]) -> Void) async {
        var iterator = wakeups.makeAsyncIterator()
        var failures = 0
        while !Task.isCancelled {
            let after = state.withLock { $0.published }
            let events: [ChangeEvent]
            do {
                events = try await PostgresStore.events(client, after: after, matching: nil, limit: pageSize, epoch: epoch, logger: logger)
                failures = 0
            } catch {
                if Task.isCancelled { return }
                failures += 1
                logger.error("reading the shared log failed; retrying", metadata: ["error": "\(String(reflecting: error))"])
                try? await Task.sleep(for: .milliseconds(min(5000, 100 << min(failures, 6))))
                continue
            }
            if let last = events.last {
                cache.endWriting([], committed: events.map { $0.path })
                publish(events)
                let ready = state.withLock { state in
                    state.published = last.sequence
                    let (ready, waiting) = state.waiters.partitioned { $0.0 <= last.sequence }
                    state.waiters = waiting
                    return ready
                }
                for (_, waiter) in ready { waiter.resume() }
                if events.count == pageSize { continue }
            }
            guard await iterator.next() != nil else { return }
        }
    }

    /// Keeps one LISTEN connection open, reconnecting with backoff; every (re)connect wakes the
    /// reader, which catches up on whatever was committed while no one listened.
    private func listen() async {
        let wake = self.wake
        var backoff: Double = 0.1
        while !Task.isCancelled {
            do {
                let configuration = try location.connectionConfiguration(applicationName: listenerApplicationName)
                let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
                do {
                    try await connection.listen(on: channel) { notifications in
                        backoff = 0.1
                        wake.yield()
                        for try await _ in notifications { wake.yield() }
                    }
                } catch {
                    if !Task.isCancelled {
                        logger.warning("the log listener lost its connection; reconnecting", metadata: ["error": "\(String(reflecting: error))"])
                    }
                }
                try? await connection.close()
            } catch {
                if !Task.isCancelled {
                    logger.warning("the log listener cannot connect; retrying", metadata: ["error": "\(String(reflecting: error))"])
                }
            }
            try? await Task.sleep(for: .seconds(backoff))
            backoff = min(backoff * 2, 5)
        }
    }
}

extension Array {
    fileprivate func partitioned(_ isFirst: (Element) -> Bool) -> ([Element], [Element]) {
        var first: [Element] = []
        var rest: [Element] = []
        for element in self {
            if isFirst(element) { first.append(element) } else { rest.append(element) }
        }
        return (first, rest)
    }
}
