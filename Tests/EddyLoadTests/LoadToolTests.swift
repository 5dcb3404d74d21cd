import EddyLoadKit
import EddyServer
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Testing

/// Keeps the load tool honest: a real Eddy on loopback, a small run of each streaming kind,
/// and every stamped event must arrive exactly once at every subscriber.
@Suite struct LoadToolTests {
    @Test(arguments: [SubscriberKind.sse, .ws])
    func everySubscriberGetsEveryEventOnce(kind: SubscriberKind) async throws {
        let server = try await LoadTestServer.start()
        do {
            var subscribers: SubscriberSpec
            if kind == .ws {
                subscribers = SubscriberSpec(kind: .ws, urlTemplate: "ws://127.0.0.1:\(server.port)/.eddy/ws", count: 20)
                subscribers.webSocketProtocol = "liveresource"
                subscribers.webSocketSubscribe = #"{"id":1,"type":"subscribe","uri":"/bench/topic"}"#
            } else {
                subscribers = SubscriberSpec(kind: .sse, urlTemplate: "http://127.0.0.1:\(server.port)/.eddy/value-stream/bench/topic", count: 20)
            }
            subscribers.sources = ["127.0.0.2", "127.0.0.3"]
            var publish = PublishSpec(urlTemplate: "http://127.0.0.1:\(server.port)/bench/topic", count: 10, rate: 50)
            publish.concurrency = 1
            var spec = LoadSpec(subscribers: subscribers, publish: publish)
            spec.settle = 0.2
            spec.drain = 1
            spec.serverPIDs = [getpid()]
            let report = try await LoadRun.run(spec)
            #expect(report.subscribers.connected == 20, "\(report.summary)")
            #expect(report.publish.succeeded == 10, "\(report.summary)")
            #expect(report.subscribers.unique == 20 * 10, "\(report.summary)")
            #expect(report.expected == 20 * 10)
            #expect(report.lost == 0)
            #expect(report.subscribers.duplicates == 0)
            #expect(report.subscribers.disconnected == 0)
            #expect(report.subscribers.latency.totalCount == 200)
            #expect(report.rssBeforeKiB.map { $0 > 0 } == true)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test func publishFailuresAreCountedNotDelivered() async throws {
        let server = try await LoadTestServer.start()
        var subscribers = SubscriberSpec(kind: .sse, urlTemplate: "http://127.0.0.1:\(server.port)/.eddy/value-stream/bench/other", count: 2)
        subscribers.sources = ["127.0.0.2"]
        // Bodies that are not JSON are refused (400), so nothing is expected and nothing is lost.
        var publish = PublishSpec(urlTemplate: "http://127.0.0.1:\(server.port)/bench/other", count: 3, rate: 0)
        publish.bodyTemplate = "not json {t} {n}"
        var spec = LoadSpec(subscribers: subscribers, publish: publish)
        spec.settle = 0.1
        spec.drain = 0.3
        let report = try await LoadRun.run(spec)
        await server.stop()
        #expect(report.publish.failed == 3)
        #expect(report.expected == 0)
        #expect(report.subscribers.unique == 0)
    }
}

/// A real Eddy server on a free loopback port (after `Tests/EddyServerTests/TestServer.swift`).
final class LoadTestServer: Sendable {
    let port: Int
    let directory: URL
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    static func start() async throws -> LoadTestServer {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-load-\(UUID().uuidString)")
        configuration.sqlite.synchronousFull = false
        configuration.writesPerSecond = 100_000
        configuration.writeBurst = 100_000
        var logger = Logger(label: "eddy-load-test")
        logger.logLevel = .warning
        let server = try await EddyServer(configuration: configuration, logger: logger)
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let app = try server.makeApplication { channel in
            portContinuation.yield(channel.localAddress?.port ?? 0)
            portContinuation.finish()
        }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let running = Task { try await group.run() }
        var port = 0
        for await reported in ports { port = reported }
        return LoadTestServer(port: port, directory: configuration.dataDirectory, group: group, running: running)
    }

    private init(port: Int, directory: URL, group: ServiceGroup, running: Task<Void, any Error>) {
        self.port = port
        self.directory = directory
        self.group = group
        self.running = running
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await running.value
        try? FileManager.default.removeItem(at: directory)
    }
}
