import NIOCore
import NIOPosix
import Synchronization

/// The subscribers of one process: indices `range` of the run's subscribers, on `loops` threads.
public final class SubscriberPool: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let loops: [any EventLoop]
    private let tallies: [LoopTally]
    private let channels = Mutex<[any Channel]>([])

    private init(group: MultiThreadedEventLoopGroup, tallies: [LoopTally]) {
        self.group = group
        loops = Array(group.makeIterator())
        self.tallies = tallies
    }

    struct TimedOut: Error, CustomStringConvertible {
        var description: String { "not ready in time" }
    }

    /// Connects subscribers `range` (indices into the whole run), at most
    /// `spec.connectConcurrency` at a time, and returns once each is ready or has failed.
    public static func connect(_ spec: SubscriberSpec, range: Range<Int>, loops: Int, notBefore: UInt64) async throws -> SubscriberPool {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, loops))
        let tallies = (0..<max(1, loops)).map { _ in LoopTally(notBefore: notBefore, topics: max(spec.topics, 1)) }
        let pool = SubscriberPool(group: group, tallies: tallies)
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            var next = range.lowerBound
            func start() {
                let index = next
                next += 1
                tasks.addTask { await pool.open(spec, index: index) }
            }
            while next < range.upperBound && next - range.lowerBound < spec.connectConcurrency { start() }
            while try await tasks.next() != nil {
                if next < range.upperBound { start() }
            }
        }
        let seconds = (ContinuousClock.now - started) / .seconds(1)
        for (loop, tally) in zip(pool.loops, tallies) {
            try await loop.submit { tally.tally.connectSeconds = seconds }.get()
        }
        return pool
    }

    private func open(_ spec: SubscriberSpec, index: Int) async {
        let slot = index % loops.count
        let loop = loops[slot]
        let tally = tallies[slot]
        let topic = spec.topic(of: index)
        let ready = loop.makePromise(of: Void.self)
        do {
            let target = try Target(fill(spec.urlTemplate, topic: topic))
            var bootstrap = ClientBootstrap(group: loop)
                .connectTimeout(.seconds(Int64(spec.connectTimeout)))
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            SubscriberHandler(spec: spec, target: target, topic: topic, tally: tally, ready: ready))
                    }
                }
            if !spec.sources.isEmpty {
                bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: spec.sources[index % spec.sources.count], port: 0))
            }
            let channel = try await bootstrap.connect(host: target.host, port: target.port).get()
            channels.withLock { $0.append(channel) }
            let deadline = loop.scheduleTask(in: .milliseconds(Int64(spec.connectTimeout * 1000))) { ready.fail(TimedOut()) }
            do {
                try await ready.futureResult.get()
                deadline.cancel()
            } catch {
                channel.close(promise: nil)
                throw error
            }
        } catch {
            ready.fail(error)
            let message = "\(error)"
            loop.execute {
                tally.tally.failed += 1
                if tally.tally.firstError == nil { tally.tally.firstError = message }
            }
        }
    }

    /// What the subscribers have seen so far; marks the run as ending.
    public func snapshot() async throws -> SubscriberTally {
        var total = SubscriberTally()
        for (loop, tally) in zip(loops, tallies) {
            total.merge(
                try await loop.submit {
                    tally.stopping = true
                    return tally.tally
                }.get())
        }
        return total
    }

    public func close() async {
        let open = channels.withLock { channels in
            defer { channels = [] }
            return channels
        }
        for channel in open { try? await channel.close() }
        try? await group.shutdownGracefully()
    }
}
