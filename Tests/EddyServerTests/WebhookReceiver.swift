import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A webhook target on a loopback port that records what it receives and can be told to
/// fail its first deliveries.
final class WebhookReceiver: Sendable {
    struct Delivery: Sendable {
        let location: String?
        let links: [String]
        let contentType: String?
        let body: String
    }

    let url: String
    private let state: State
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    final class State: Sendable {
        let deliveries = Mutex<[Delivery]>([])
        let failuresLeft: Mutex<Int>
        let attempts = Mutex(0)
        init(failFirst: Int) { failuresLeft = Mutex(failFirst) }
    }

    static func start(failFirst: Int = 0) async throws -> WebhookReceiver {
        let state = State(failFirst: failFirst)
        let router = Router()
        router.post("/hook") { request, _ -> HTTPResponse.Status in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            state.attempts.withLock { $0 += 1 }
            let fail = state.failuresLeft.withLock { left in
                guard left > 0 else { return false }
                left -= 1
                return true
            }
            if fail { return .internalServerError }
            let delivery = Delivery(
                location: request.headers[.location], links: request.headers[values: HTTPField.Name("Link")!],
                contentType: request.headers[.contentType], body: String(buffer: body))
            state.deliveries.withLock { $0.append(delivery) }
            return .noContent
        }
        var logger = Logger(label: "receiver")
        logger.logLevel = .error
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let running = Task { try await group.run() }
        var port = 0
        for await reported in ports { port = reported }
        return WebhookReceiver(url: "http://127.0.0.1:\(port)/hook", state: state, group: group, running: running)
    }

    private init(url: String, state: State, group: ServiceGroup, running: Task<Void, any Error>) {
        self.url = url
        self.state = state
        self.group = group
        self.running = running
    }

    var deliveries: [Delivery] { state.deliveries.withLock { $0 } }
    var attempts: Int { state.attempts.withLock { $0 } }

    /// Waits until at least `count` deliveries arrived.
    func waitFor(_ count: Int, seconds: Double = 20) async throws -> [Delivery] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while deliveries.count < count {
            guard ContinuousClock.now < deadline else { throw TestFailure("only \(deliveries.count) of \(count) deliveries arrived") }
            try await Task.sleep(for: .milliseconds(20))
        }
        return deliveries
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await running.value
    }
}
