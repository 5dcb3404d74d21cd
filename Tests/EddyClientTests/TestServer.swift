import AsyncHTTPClient
import EddyCore
import EddyServer
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// A real Eddy server on a loopback port. Unlike the server tests' helper, it can be started on
/// a given data folder and port, and stopped keeping its data, so a test can restart it the way
/// an operator would.
final class TestServer: Sendable {
    let baseURL: String
    let port: Int
    let server: EddyServer
    let directory: URL
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    static func freshDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("eddy-client-\(UUID().uuidString)")
    }

    static func start(
        directory: URL = freshDirectory(), port: Int = 0, configure: (inout ServerConfiguration) -> Void = { _ in }
    ) async throws -> TestServer {
        var configuration = ServerConfiguration()
        configuration.port = port
        configuration.dataDirectory = directory
        configuration.sqlite.synchronousFull = false
        configuration.writesPerSecond = 100_000
        configuration.writeBurst = 100_000
        configure(&configuration)
        if configuration.storeURL == nil { configuration.storeURL = postgresStoreURL(for: directory) }
        var logger = Logger(label: "eddy-client-test")
        logger.logLevel = .critical
        let server = try await EddyServer(configuration: configuration, logger: logger)
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let app = try server.makeApplication { channel in
            portContinuation.yield(channel.localAddress?.port ?? 0)
            portContinuation.finish()
        }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let running = Task { try await group.run() }
        var bound = 0
        for await reported in ports { bound = reported }
        return TestServer(port: bound, server: server, directory: directory, group: group, running: running)
    }

    /// Runs `body` against a fresh server and always stops it afterwards.
    static func with<T>(configure: (inout ServerConfiguration) -> Void = { _ in }, _ body: (TestServer) async throws -> T) async throws -> T {
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

    private init(port: Int, server: EddyServer, directory: URL, group: ServiceGroup, running: Task<Void, any Error>) {
        self.baseURL = "http://127.0.0.1:\(port)"
        self.port = port
        self.server = server
        self.directory = directory
        self.group = group
        self.running = running
    }

    /// Stops serving; the data folder stays for a restart unless `removingData`.
    func stop(removingData: Bool = true) async {
        await group.triggerGracefulShutdown()
        _ = try? await running.value
        if removingData { try? FileManager.default.removeItem(at: directory) }
    }

    /// A restart: this server stopped, a new one on the same data folder and port.
    func restarted() async throws -> TestServer {
        await stop(removingData: false)
        return try await TestServer.start(directory: directory, port: port)
    }

    @discardableResult
    func send(_ method: HTTPMethod, _ path: String, json body: String? = nil) async throws -> Int {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }
}

/// A JSON value written as JSON text, for expectations.
func json(_ text: String) throws -> JSONValue {
    try JSONValue(parsing: text)
}

/// In the suite's PostgreSQL pass (`EDDY_TEST_STORE=postgres`), each data folder maps to its own
/// schema in `EDDY_TEST_POSTGRES`, so a server restarted on the same folder finds its data.
func postgresStoreURL(for directory: URL) -> String? {
    let environment = ProcessInfo.processInfo.environment
    guard environment["EDDY_TEST_STORE"] == "postgres", let base = environment["EDDY_TEST_POSTGRES"], !base.isEmpty else { return nil }
    let schema = String(("t_" + directory.lastPathComponent.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" }).prefix(63))
    return base + (base.contains("?") ? "&" : "?") + "schema=" + schema
}
