import EddyLoadKit
import EddyServer
import Foundation
import Hummingbird
import Logging
import EddyTestSupport
import Testing

/// Keeps the load tool honest: a real Eddy on loopback, a small run of each streaming kind,
/// and every stamped event must arrive exactly once at every subscriber.
@Suite struct LoadToolTests {
    @Test(arguments: [SubscriberKind.sse, .ws])
    func everySubscriberGetsEveryEventOnce(kind: SubscriberKind) async throws {
        let server = try await RunningServer.start()
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
            // The server here is this process, which also ran the subscribers and the publisher.
            #expect(report.serverCPUSeconds.map { $0 > 0 } == true, "\(report.summary)")
            // Its threads are NIO's event loops and Swift's pool, named as the kernel knows them.
            let byThread = try #require(report.serverCPUByThread)
            #expect(byThread.keys.contains { $0.hasPrefix("NIO-") }, "\(byThread)")
            #expect(report.toolCPUSeconds.map { $0 > 0 } == true, "\(report.summary)")
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test func publishFailuresAreCountedNotDelivered() async throws {
        let server = try await RunningServer.start()
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
