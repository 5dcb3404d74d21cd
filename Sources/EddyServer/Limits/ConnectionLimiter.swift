import Logging
import NIOCore
import Synchronization

/// Counts open connections per client address and refuses those over the limit: a plain
/// HTTP connection gets a 429 problem response, a TLS one is closed (nothing can be said on it
/// before the handshake). Sits first in each connection's pipeline.
public final class ConnectionLimiter: Sendable {
    public let maximumPerAddress: Int
    private let counts = Mutex<[String: Int]>([:])
    private let tasks = Atomic<Int>(0)
    private let logger: Logger

    public init(maximumPerAddress: Int, logger: Logger) {
        self.maximumPerAddress = maximumPerAddress
        self.logger = logger
    }

    /// Claims a slot for `address`; false when it already holds the maximum.
    func open(_ address: String) -> Bool {
        counts.withLock { counts in
            let current = counts[address, default: 0]
            guard current < maximumPerAddress else { return false }
            counts[address] = current + 1
            return true
        }
    }

    func close(_ address: String) {
        counts.withLock { counts in
            let remaining = counts[address, default: 1] - 1
            counts[address] = remaining > 0 ? remaining : nil
        }
    }

    public func openConnections(from address: String) -> Int {
        counts.withLock { $0[address, default: 0] }
    }

    /// Open connections from every address (a metrics scrape reads it; it walks the table).
    public var openConnections: Int { counts.withLock { $0.values.reduce(0, +) } }

    /// Connections whose task is still running. A stream or socket served from its pipeline
    /// holds none once set up, so idle subscribers cost no task and no task memory.
    public var connectionTasks: Int { tasks.load(ordering: .relaxed) }

    /// Runs a connection's task, counted in `connectionTasks`.
    func countingTask(_ body: () async -> Void) async {
        tasks.add(1, ordering: .relaxed)
        await body()
        tasks.subtract(1, ordering: .relaxed)
    }

    func handler(plaintext: Bool) -> ConnectionLimitHandler {
        ConnectionLimitHandler(limiter: self, plaintext: plaintext, logger: logger)
    }
}

final class ConnectionLimitHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let limiter: ConnectionLimiter
    private let plaintext: Bool
    private let logger: Logger
    private var claimed: String?
    private var refused = false

    init(limiter: ConnectionLimiter, plaintext: Bool, logger: Logger) {
        self.limiter = limiter
        self.plaintext = plaintext
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { claim(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        if claimed == nil { claim(context) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard refused else {
            context.fireChannelRead(data)
            return
        }
        // Answer once the client has sent its request, so it reads the refusal rather than a reset.
        refused = false
        let problem = Problem(
            .tooManyRequests, "too-many-connections", "this address holds the maximum of \(limiter.maximumPerAddress) open connections")
        let pipeline = NIOLoopBound(context.pipeline, eventLoop: context.eventLoop)
        context.writeAndFlush(NIOAny(problem.closingHTTP1Response(extraHeaders: ["Retry-After: 1"]))).whenComplete { _ in
            pipeline.value.closeAsIfInputEnded()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let claimed { limiter.close(claimed) }
        claimed = nil
        context.fireChannelInactive()
    }

    private func claim(_ context: ChannelHandlerContext) {
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        if limiter.open(address) {
            claimed = address
            return
        }
        logger.warning(
            "connection refused: too many from one address", metadata: ["address": "\(address)", "limit": "\(limiter.maximumPerAddress)"])
        if plaintext {
            refused = true
            // A client that never sends anything is not waited for.
            let pipeline = NIOLoopBound(context.pipeline, eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .seconds(5)) { pipeline.value.closeAsIfInputEnded() }
        } else {
            context.close(promise: nil)
        }
    }
}
