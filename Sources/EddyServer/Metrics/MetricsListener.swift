import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// `GET /metrics` in Prometheus' text format, on a listener of its own (`--metrics`), apart
/// from the API: the API's access policy, rate limits and routes do not apply to it, so it
/// only listens on loopback unless `--metrics-public` says otherwise.
enum MetricsListener {
    static let path = "/metrics"

    /// The listener to run beside the API, when one is configured.
    static func services(for server: EddyServer) -> [any Service] {
        guard let address = server.configuration.metricsAddress else { return [] }
        let scrape = MetricsScrape(metrics: server.metrics, store: server.store, hub: server.hub, connections: server.connections)
        let router = Router()
        router.get(RouterPath(stringLiteral: path)) { _, _ -> Response in
            await scrape.refresh()
            var body: [UInt8] = []
            server.metrics.registry.emit(into: &body)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        let metrics = server.metrics
        let store = server.store
        return [
            Application(
                router: router,
                configuration: .init(address: .hostname(address.host, port: address.port), serverName: "Eddy"),
                onServerRunning: { channel in
                    // Nothing was published before the listener started; the fan-out is not
                    // behind the events already in the log then.
                    if let head = try? await store.headSequence() { metrics.notePublished(upTo: head) }
                    metrics.listening.fulfil(channel.localAddress?.port ?? 0)
                },
                logger: server.logger)
        ]
    }
}

/// Where the metrics listener listens: `host:port`, `[v6]:port`.
public struct MetricsAddress: Sendable, Equatable {
    public let host: String
    public let port: Int

    public init?(_ text: String) {
        let host: Substring
        let port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, port.utf8.count <= 5, port.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let number = Int(port), (0...65535).contains(number)
        else { return nil }
        self.host = String(host)
        self.port = number
    }

    /// Whether only this machine can reach it.
    public var isLoopback: Bool {
        let host = host.lowercased()
        return host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// As a URL's authority.
    public var authority: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// The port the metrics listener bound (useful with port 0), for whoever waits for it.
public final class BoundPort: Sendable {
    private enum State {
        case waiting([CheckedContinuation<Int, Never>])
        case bound(Int)
    }

    private let state = Mutex(State.waiting([]))

    func fulfil(_ port: Int) {
        let waiters = state.withLock { state -> [CheckedContinuation<Int, Never>] in
            guard case .waiting(let waiters) = state else { return [] }
            state = .bound(port)
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: port) }
    }

    /// Waits until the listener is up.
    public func port() async -> Int {
        await withCheckedContinuation { continuation in
            let bound = state.withLock { state -> Int? in
                switch state {
                case .bound(let port): return port
                case .waiting(let waiters):
                    state = .waiting(waiters + [continuation])
                    return nil
                }
            }
            if let bound { continuation.resume(returning: bound) }
        }
    }
}

extension MetricsAddress {
    /// The metrics answer anyone who reaches them, policy or not: off loopback only when asked.
    static func checkSafeToServe(_ configuration: ServerConfiguration) throws {
        guard let address = configuration.metricsAddress, !address.isLoopback, !configuration.metricsPublic else { return }
        throw ConfigurationError(
            "refusing to serve metrics on \(address.authority): anyone who reaches it could read them. "
                + "Listen on 127.0.0.1, or pass --metrics-public.")
    }
}
