import NIOCore
import NIOPosix

/// Sends `spec.count` stamped requests, paced at `spec.rate` (open loop: a slow answer does not
/// delay the next send unless all `concurrency` writers are busy), or back to back when the
/// rate is 0 (closed loop, for the durable-writes figure).
///
/// Each writer is one keep-alive HTTP/1.1 connection written to with ready-made request bytes,
/// all on one event loop: a general-purpose client (a task, a pool lookup and header objects per
/// request) cost as much CPU per write as the server under test, on the same two cores.
public enum Publisher {
    public static func run(_ spec: PublishSpec) async throws -> PublishResult {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let done = loop.makePromise(of: PublishResult.self)
        loop.execute { PublishDriver(spec: spec, loop: loop, done: done).begin() }
        let result = try await done.futureResult.get()
        try await group.shutdownGracefully()
        return result
    }

    struct Outcome {
        var topic: Int
        var microseconds: UInt64
        var failure: String?
    }
}

/// Hands out request numbers to writers and collects their outcomes. Every access is on `loop`,
/// hence unchecked.
final class PublishDriver: @unchecked Sendable {
    private let spec: PublishSpec
    private let loop: any EventLoop
    private let done: EventLoopPromise<PublishResult>
    private var writers: [PublishWriter] = []
    private var idle: [PublishWriter] = []
    private var next = 0
    private var inFlight = 0
    private var start = NIODeadline.now()
    private var result = PublishResult()
    private var pacer: Scheduled<Void>?
    private var watchdog: RepeatedTask?
    private var finished = false

    /// A request unanswered this long fails, and its connection is replaced.
    static let requestTimeout = TimeAmount.seconds(20)

    init(spec: PublishSpec, loop: any EventLoop, done: EventLoopPromise<PublishResult>) {
        self.spec = spec
        self.loop = loop
        self.done = done
        result.succeededByTopic = Array(repeating: 0, count: max(spec.topics, 1))
    }

    func begin() {
        start = .now()
        result.started = nowNanoseconds()
        writers = (0..<max(spec.concurrency, 1)).map { _ in PublishWriter(spec: spec, loop: loop, driver: self) }
        idle = writers
        watchdog = loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [self] _ in
            let now = NIODeadline.now()
            for writer in writers { writer.expire(at: now) }
        }
        sendDue()
    }

    /// Requests whose send time has come: all of them in a closed loop.
    private var due: Int {
        guard spec.rate > 0 else { return spec.count }
        let elapsed = Double((NIODeadline.now() - start).nanoseconds) / 1e9
        return min(spec.count, Int(elapsed * spec.rate) + 1)
    }

    private var stopped: Bool {
        // A server that has died would otherwise have every remaining request fail in turn.
        next >= spec.count || result.consecutiveFailures >= 32
    }

    private func sendDue() {
        let due = self.due
        while !stopped, next < due, let writer = idle.popLast() {
            send(on: writer)
        }
        if !stopped, next >= due, pacer == nil {
            let at = start + .nanoseconds(Int64(Double(next) / spec.rate * 1e9))
            pacer = loop.scheduleTask(deadline: at) { [self] in
                pacer = nil
                sendDue()
            }
        }
        finishIfDone()
    }

    private func send(on writer: PublishWriter) {
        let n = next
        next += 1
        inFlight += 1
        result.sent += 1
        writer.send(n: n, topic: n % max(spec.topics, 1))
    }

    func completed(_ outcome: Publisher.Outcome, by writer: PublishWriter) {
        inFlight -= 1
        result.add(outcome)
        idle.append(writer)
        sendDue()
    }

    private func finishIfDone() {
        guard stopped, inFlight == 0, !finished else { return }
        finished = true
        pacer?.cancel()
        watchdog?.cancel()
        for writer in writers { writer.close() }
        writers = []
        idle = []
        result.finished = nowNanoseconds()
        done.succeed(result)
    }
}

/// One keep-alive connection carrying one request at a time; reconnects when the server closes.
/// Used only on the driver's loop, hence unchecked.
final class PublishWriter: @unchecked Sendable {
    private let spec: PublishSpec
    private let loop: any EventLoop
    /// Strong: the writers keep the driver alive; the driver lets go of them when it finishes.
    private let driver: PublishDriver
    private var channel: (any Channel)?
    private var connecting = false
    private var parser = ResponseParser()
    private var status = 0
    /// The request in flight: its topic, send time and deadline.
    private var current: (topic: Int, sent: UInt64, deadline: NIODeadline)?
    /// Where to connect: the URL template's authority (placeholders belong in its path).
    private let target: Result<Target, any Error>
    /// The request line up to its path, the path, the headers up to `Content-Length: `, the body.
    private let requestStart: [UInt8]
    private let path: RequestTemplate
    private let headerBlock: [UInt8]
    private let body: RequestTemplate
    private var bodyScratch = ByteBuffer()
    private var queued: ByteBuffer?

    init(spec: PublishSpec, loop: any EventLoop, driver: PublishDriver) {
        self.spec = spec
        self.loop = loop
        self.driver = driver
        target = Result { try Target(spec.urlTemplate) }
        let headerLines = spec.headers.filter { $0.contains(":") }.map { $0 + "\r\n" }.joined()
        requestStart = Array("\(spec.method) ".utf8)
        path = RequestTemplate((try? target.get().pathAndQuery) ?? "/")
        headerBlock = Array(" HTTP/1.1\r\nHost: \((try? target.get().authority) ?? "")\r\n\(headerLines)Content-Length: ".utf8)
        body = RequestTemplate(spec.bodyTemplate)
    }

    func send(n: Int, topic: Int) {
        let sent = nowNanoseconds()
        current = (topic, sent, .now() + PublishDriver.requestTimeout)
        do {
            let target = try target.get()
            bodyScratch.clear()
            let length = body.write(into: &bodyScratch, t: sent, n: n, topic: topic)
            var request = ByteBuffer()
            request.reserveCapacity(256 + length)
            request.writeBytes(requestStart)
            path.write(into: &request, t: sent, n: n, topic: topic)
            request.writeBytes(headerBlock)
            RequestTemplate.writeDecimal(UInt64(length), into: &request)
            request.writeStaticString("\r\n\r\n")
            request.writeImmutableBuffer(bodyScratch)
            if let channel {
                channel.writeAndFlush(request, promise: nil)
            } else {
                queued = request
                connect(to: target)
            }
        } catch {
            finish(failure: "\(error)")
        }
    }

    private func connect(to target: Target) {
        guard !connecting else { return }
        connecting = true
        ClientBootstrap(group: loop)
            .connectTimeout(.seconds(10))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(PublishResponseHandler(writer: self))
                }
            }
            .connect(host: target.host, port: target.port)
            .whenComplete { [self] outcome in
                connecting = false
                switch outcome {
                case .success(let channel):
                    self.channel = channel
                    parser = ResponseParser()
                    if let request = queued {
                        queued = nil
                        channel.writeAndFlush(request, promise: nil)
                    }
                case .failure(let error):
                    queued = nil
                    finish(failure: "\(error)")
                }
            }
    }

    func received(_ buffer: inout ByteBuffer) {
        do {
            try parser.feed(&buffer) { event in
                switch event {
                case .head(let head): status = head.status
                case .end: finish(failure: (200..<300).contains(status) ? nil : "status \(status)")
                case .body, .frame: break
                }
            }
        } catch {
            channel?.close(promise: nil)
        }
    }

    func closed(_ closing: any Channel) {
        guard closing === channel else { return }
        channel = nil
        finish(failure: "connection closed")
    }

    /// Fails a request unanswered past its deadline; its connection, which may yet answer it,
    /// is closed so that the answer cannot be taken for the next request's.
    func expire(at now: NIODeadline) {
        guard let current, current.deadline <= now else { return }
        let stale = channel
        channel = nil
        finish(failure: "timed out")
        stale?.close(promise: nil)
    }

    func close() {
        channel?.close(promise: nil)
        channel = nil
    }

    private func finish(failure: String?) {
        guard let request = current else { return }
        current = nil
        let outcome = Publisher.Outcome(topic: request.topic, microseconds: (nowNanoseconds() &- request.sent) / 1000, failure: failure)
        driver.completed(outcome, by: self)
    }
}

final class PublishResponseHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let writer: PublishWriter

    init(writer: PublishWriter) {
        self.writer = writer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        writer.received(&buffer)
    }

    func channelInactive(context: ChannelHandlerContext) {
        writer.closed(context.channel)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

extension PublishResult {
    mutating func add(_ outcome: Publisher.Outcome) {
        if let failure = outcome.failure {
            failed += 1
            consecutiveFailures += 1
            if firstFailure == nil { firstFailure = failure }
        } else {
            consecutiveFailures = 0
            succeeded += 1
            succeededByTopic[outcome.topic] += 1
            latency.record(outcome.microseconds)
        }
    }
}
