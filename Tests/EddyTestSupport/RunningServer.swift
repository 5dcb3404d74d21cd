import EddyCore
import EddyServer
import Foundation
import Logging
import ServiceLifecycle

/// A real Eddy server on a loopback port, for the test targets that need one (server, client
/// and load-tool tests). It follows `TestStore` (the suite's PostgreSQL pass), and can be
/// stopped keeping its data and restarted on the same folder and port, as an operator would.
public final class RunningServer: Sendable {
    public let baseURL: String
    public let port: Int
    public let server: EddyServer
    public let directory: URL
    private let logLevel: Logger.Level
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    /// A new data folder under the temporary directory, named with `prefix`.
    public static func freshDirectory(prefix: String = "eddy-test") -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    }

    /// Starts a server on `directory` and `port` (0: any free port). Writes are durable only to
    /// the OS (the durability tests use a child `eddy serve`), and the write rate limit is
    /// raised: tests write in bursts from one address, and the limit has tests of its own.
    /// `wrapStore` puts a test's own layer (one that counts calls, say) between server and store.
    public static func start(
        directory: URL = freshDirectory(), port: Int = 0, logLevel: Logger.Level = .warning,
        configure: (inout ServerConfiguration) -> Void = { _ in }, wrapStore: ((any ResourceStore) -> any ResourceStore)? = nil
    ) async throws -> RunningServer {
        var configuration = ServerConfiguration()
        configuration.port = port
        configuration.dataDirectory = directory
        configuration.sqlite.synchronousFull = false
        configuration.writesPerSecond = 100_000
        configuration.writeBurst = 100_000
        configure(&configuration)
        if configuration.storeURL == nil { configuration.storeURL = TestStore.url(for: configuration.dataDirectory) }
        var logger = Logger(label: "eddy-test")
        logger.logLevel = logLevel
        let server: EddyServer
        if let wrapStore {
            let store = wrapStore(try await EddyServer.openStore(configuration, logger: logger))
            server = try await EddyServer(configuration: configuration, store: store, logger: logger)
        } else {
            server = try await EddyServer(configuration: configuration, logger: logger)
        }
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let app = try server.makeApplication { channel in
            portContinuation.yield(channel.localAddress?.port ?? 0)
            portContinuation.finish()
        }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let running = Task { try await group.run() }
        var bound = 0
        for await reported in ports { bound = reported }
        let scheme = configuration.servesTLS ? "https" : "http"
        return RunningServer(
            baseURL: "\(scheme)://127.0.0.1:\(bound)", port: bound, server: server, directory: configuration.dataDirectory,
            logLevel: logLevel, group: group, running: running)
    }

    private init(
        baseURL: String, port: Int, server: EddyServer, directory: URL, logLevel: Logger.Level, group: ServiceGroup,
        running: Task<Void, any Error>
    ) {
        self.baseURL = baseURL
        self.port = port
        self.server = server
        self.directory = directory
        self.logLevel = logLevel
        self.group = group
        self.running = running
    }

    /// Stops serving; the data folder is removed unless `removingData` is false.
    public func stop(removingData: Bool = true) async {
        await group.triggerGracefulShutdown()
        _ = try? await running.value
        if removingData { try? FileManager.default.removeItem(at: directory) }
    }

    /// A restart: this server stopped, a new one on the same data folder and port.
    public func restarted(configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> RunningServer {
        await stop(removingData: false)
        return try await RunningServer.start(directory: directory, port: port, logLevel: logLevel, configure: configure)
    }
}

extension RunningServer {
    /// Runs `body` against a fresh server and always stops it afterwards.
    public static func with<T>(
        configure: (inout ServerConfiguration) -> Void = { _ in }, _ body: (RunningServer) async throws -> T
    ) async throws -> T {
        let server = try await start(configure: configure)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }
}
