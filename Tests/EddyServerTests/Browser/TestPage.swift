import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// A second HTTP server, on its own port and so its own origin, serving a page that loads the
/// JavaScript client from Eddy: every call the client makes is cross-origin, as on a real site.
final class TestPage: Sendable {
    let origin: String
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    private init(origin: String, group: ServiceGroup, running: Task<Void, any Error>) {
        self.origin = origin
        self.group = group
        self.running = running
    }

    static func start() async throws -> TestPage {
        let router = Router()
        router.get("/test.html") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: harness)))
        }
        var logger = Logger(label: "test-page")
        logger.logLevel = .warning
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let running = Task { try await group.run() }
        var port = 0
        for await reported in ports { port = reported }
        return TestPage(origin: "http://127.0.0.1:\(port)", group: group, running: running)
    }

    func url(eddy: String) -> String {
        origin + "/test.html?eddy=" + (eddy.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? eddy)
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await running.value
    }

    /// Records every event of every watched resource in `window.log` as short strings: objects
    /// hold `n`, children `v`, so `value 2`, `child-added b:1`, `child-removed a`.
    static let harness = """
        <!doctype html><meta charset="utf-8"><title>Eddy client test</title>
        <script type="module">
        const eddy = new URLSearchParams(location.search).get('eddy');
        window.log = [];
        const describe = (type, arg) => {
          if (Array.isArray(arg)) return `${type} [${arg.map((item) => item.id + ':' + item.v).join(',')}]`;
          if (arg && typeof arg === 'object') return `${type} ${arg.id === undefined ? arg.n : arg.id + ':' + arg.v}`;
          return arg === undefined || arg === null ? type : `${type} ${arg}`;
        };
        try {
          const client = await import(eddy + '/.eddy/client.js');
          const record = (name, resource) => {
            for (const type of ['value', 'removed', 'child-added', 'child-changed', 'child-removed', 'resync', 'transport']) {
              resource.on(type, (arg) => window.log.push({ name, line: type === 'resync' ? 'resync' : describe(type, arg) }));
            }
            resource.on('error', (error) => window.log.push({ name, error: String(error?.message ?? JSON.stringify(error)) }));
          };
          const options = (transports) => ({ minBackoff: 100, maxBackoff: 500, wait: 5, ...(transports ? { transports } : {}) });
          window.watch = (name, path, transports) => record(name, new client.LiveResource(eddy + path, options(transports)));
          window.watchUpdates = (name, updates, transports) => record(name, new client.LiveResource({ updates }, options(transports)));
          window.solid = (name, topic, channel) => {
            const subscription = new client.SolidSubscription(eddy + topic, { channel });
            subscription.on('open', () => window.log.push({ name, line: 'open' }));
            subscription.on('notification', (note) => window.log.push({ name, line: `${note.type} ${new URL(note.object).pathname}` }));
            subscription.on('error', (error) => window.log.push({ name, error: String(error?.message ?? error) }));
          };
          window.concrnt = (name, uri) => {
            const subscription = new client.ConcrntSubscription(uri, { server: eddy });
            subscription.on('open', () => window.log.push({ name, line: 'open' }));
            for (const type of ['created', 'deleted']) subscription.on(type, (event) => window.log.push({ name, line: `${type} ${event.resource}` }));
          };
          window.lines = (name) => window.log.filter((entry) => entry.name === name && entry.line).map((entry) => entry.line);
          window.errors = (name) => window.log.filter((entry) => entry.name === name && entry.error).map((entry) => entry.error);
          window.ready = true;
        } catch (error) {
          window.ready = 'failed to load the client: ' + error;
        }
        </script>
        """
}
