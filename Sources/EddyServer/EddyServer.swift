import EddyCore
import EddySQLite
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// Assembles the store, the hub and the HTTP application from a configuration.
public struct EddyServer: Sendable {
    public let configuration: ServerConfiguration
    public let store: any ResourceStore
    public let hub: Hub
    let logger: Logger

    /// Opens the embedded SQLite store in the configured data directory.
    public init(configuration: ServerConfiguration, logger: Logger = Logger(label: "eddy")) throws {
        var sqlite = SQLiteStore.Configuration()
        sqlite.synchronous = configuration.sqlite.synchronousFull ? .full : .normal
        let store = try SQLiteStore(directory: configuration.dataDirectory, configuration: sqlite)
        self.init(configuration: configuration, store: store, logger: logger)
    }

    public init(configuration: ServerConfiguration, store: any ResourceStore, logger: Logger = Logger(label: "eddy")) {
        self.configuration = configuration
        self.store = store
        self.logger = logger
        let hub = Hub(store: store, configuration: .init(replayBufferLimit: configuration.subscriberBufferEvents * 4))
        store.setCommitListener { events in hub.publish(events) }
        self.hub = hub
    }

    /// The HTTP application, with the store's lifecycle attached: on shutdown the server
    /// stops accepting, streams end, in-flight requests drain, and then the store closes.
    public func makeApplication(onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }) -> some ApplicationProtocol {
        let streams = EventStreamResponse(
            hub: hub, bufferEvents: configuration.subscriberBufferEvents, keepAliveSeconds: configuration.keepAliveSeconds)
        let responder = EddyResponder(
            resources: ResourceHandler(store: store, configuration: configuration),
            eventLog: EventLogHandler(streams: streams),
            maximumBodyBytes: configuration.maximumBodyBytes)
        return Application(
            responder: responder,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "Eddy"),
            services: [
                StoreLifecycle(store: store, hub: hub, logger: logger),
                RetentionService(
                    store: store, policy: configuration.retention, intervalSeconds: configuration.retentionIntervalSeconds, logger: logger),
            ],
            onServerRunning: onServerRunning,
            logger: logger)
    }
}

/// Keeps the store open while the application runs and closes it last: Hummingbird shuts its
/// services down in reverse order, so this runs after the server has drained.
struct StoreLifecycle: Service {
    let store: any ResourceStore
    let hub: Hub
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        hub.shutdown()
        try await store.close()
        logger.info("store closed")
    }
}

/// Trims the change log to the retention policy, periodically.
struct RetentionService: Service {
    let store: any ResourceStore
    let policy: RetentionPolicy
    let intervalSeconds: Int
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(intervalSeconds)) }
            } catch {
                return
            }
            do {
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                let removed = try await store.applyRetention(policy, now: now)
                if removed > 0 { logger.info("retention dropped events", metadata: ["count": "\(removed)"]) }
            } catch {
                logger.error("retention failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
