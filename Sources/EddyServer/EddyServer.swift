import EddyCore
import EddyPostgres
import EddySQLite
import ConcrntCrypto
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdHTTP2
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import UnixSignals

/// Assembles the store, the hub, access control and the HTTP application from a configuration.
public struct EddyServer: Sendable {
    public let configuration: ServerConfiguration
    public let store: any ResourceStore
    public let hub: Hub
    public let access: AccessController
    public let connections: ConnectionLimiter
    /// The server's own Concrnt identity; its `ccs1…` id is the csid.
    public let serverKey: SigningKey
    /// This node's name among the nodes sharing the store.
    public var nodeID: String { store.nodeID }
    let logger: Logger
    /// The event loops' frame mailboxes, held while the hub publishes.
    let mailboxes: FrameMailboxes
    /// This server's Prometheus registry, served by the `--metrics` listener.
    public let metrics = EddyMetrics()

    /// Opens the configured store: PostgreSQL when a store URL is set, else the embedded SQLite
    /// store in the data directory.
    public init(configuration: ServerConfiguration, logger: Logger = .eddy()) async throws {
        try Self.checkSafeToServe(configuration)
        try await self.init(configuration: configuration, store: try await Self.openStore(configuration, logger: logger), logger: logger)
    }

    /// The store `configuration` names, open.
    public static func openStore(_ configuration: ServerConfiguration, logger: Logger = .eddy()) async throws -> any ResourceStore {
        var readCache = ResourceCache.Limits.standard
        readCache.bytes = configuration.readCacheBytes
        if let url = configuration.storeURL {
            let location: PostgresLocation
            do { location = try PostgresLocation(url: url) } catch { throw ConfigurationError("--store: \(error)") }
            return try await PostgresStore.open(location, readCache: readCache, logger: logger)
        }
        var sqlite = SQLiteStore.Configuration()
        sqlite.synchronous = configuration.sqlite.synchronousFull ? .full : .normal
        sqlite.readCache = readCache
        return try SQLiteStore(directory: configuration.dataDirectory, configuration: sqlite)
    }

    public init(configuration: ServerConfiguration, store: any ResourceStore, logger: Logger = .eddy()) async throws {
        try Self.checkSafeToServe(configuration)
        self.configuration = configuration
        self.store = store
        self.logger = logger
        let jwks = try configuration.jwksFile.map { file in
            do { return try String(contentsOf: file, encoding: .utf8) } catch {
                throw ConfigurationError("cannot read the JWKS file \(file.path): \(error.localizedDescription)")
            }
        }
        let authenticator = try await Authenticator.make(hmacSecret: configuration.jwtSecret, jwksJSON: jwks)
        access = try AccessController(authenticator: authenticator, policyFile: configuration.policyFile, logger: logger)
        connections = ConnectionLimiter(maximumPerAddress: configuration.maximumConnectionsPerAddress, logger: logger)
        serverKey = try await ServerKey.load(from: store)
        let hub = Hub(
            store: store,
            configuration: .init(
                replayBufferLimit: configuration.subscriberBufferEvents * 4, sharedEncodingKeys: configuration.sharedEncodingKeys,
                observer: metrics.hubObserver))
        // The fan-out runs beside the store's writer, not inside its commit.
        let mailboxes = FrameMailboxes()
        let publishing = PublishQueue(hub: hub, around: { publish in mailboxes.holding(publish) })
        self.mailboxes = mailboxes
        let metrics = self.metrics
        store.setCommitListener { events in metrics.committed(events); publishing.enqueue(events) }
        self.hub = hub
    }

    /// An open server (no policy) is refused anywhere but loopback.
    static func checkSafeToServe(_ configuration: ServerConfiguration) throws {
        if configuration.policyFile == nil && !configuration.listensOnLoopbackOnly {
            throw ConfigurationError(
                "refusing to listen on \(configuration.host) without an access policy: anyone could read and write everything. "
                    + "Pass --policy <file>, or listen on 127.0.0.1.")
        }
        if (configuration.tlsCertificateFile == nil) != (configuration.tlsKeyFile == nil) {
            throw ConfigurationError("--tls-cert and --tls-key go together")
        }
        try MetricsAddress.checkSafeToServe(configuration)
    }

    /// Re-reads the policy and drops subscriptions it no longer allows.
    public func reloadPolicy() throws {
        try access.reload()
        hub.revoke(where: { access.stillAllows($0, principal: $1) }, reason: "the access policy changed")
    }

    /// The HTTP application, with the store's lifecycle attached: on shutdown the server
    /// stops accepting, streams end, in-flight requests drain, and then the store closes.
    public func makeApplication(onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }) throws -> some ApplicationProtocol {
        let outbound = OutboundGuard(allowed: configuration.allowOutbound)
        let lease = Lease(holder: nodeID, seconds: configuration.leaseSeconds)
        let webhooks = Webhooks(
            store: store, hub: hub, access: access, outbound: outbound, policy: metrics.observing(configuration.delivery), lease: lease,
            logger: logger)
        let solidChannels = SolidChannels(
            store: store, hub: hub, access: access, outbound: outbound, policy: metrics.observing(configuration.delivery), lease: lease,
            logger: logger)
        let federation = Federation(
            store: store, hub: hub, peers: configuration.concrntPeers, outbound: outbound,
            resourcesPerUpstream: configuration.maximumSubscriptionsPerConnection, lease: lease, logger: logger)
        federation.start()
        let streams = EventStreamResponse(
            hub: hub, bufferEvents: configuration.subscriberBufferEvents,
            ticker: KeepAliveTicker(intervalSeconds: configuration.keepAliveSeconds))
        let responder = EddyRouter(
            resources: ResourceHandler(
                store: store, configuration: configuration,
                live: LiveResource(store: store, hub: hub, access: access, maximumWaitSeconds: configuration.maximumWaitSeconds)),
            eventLog: EventLogHandler(streams: streams, access: access),
            liveStreams: LiveStreams(streams: streams, access: access, epoch: store.epoch),
            multiplex: Multiplex(
                store: store, hub: hub, access: access, streams: streams, maximumWaitSeconds: configuration.maximumWaitSeconds,
                maximumResources: configuration.maximumSubscriptionsPerConnection, defaultChangesLimit: configuration.defaultListLimit),
            webhookEndpoint: WebhookEndpoint(
                webhooks: webhooks, store: store, access: access, outbound: outbound,
                limitPerSubject: configuration.maximumRegistrationsPerSubject, maximumBodyBytes: configuration.maximumBodyBytes),
            concrnt: Concrnt(
                store: store, serverKey: serverKey, maximumSkewSeconds: configuration.concrntMaximumSkewSeconds,
                maximumBodyBytes: configuration.maximumBodyBytes, federation: federation),
            timeline: ChunkedTimeline(
                store: store, access: access, chunkSize: configuration.timelineChunkSeconds, currentChunkMaxAge: 5, pastChunkMaxAge: 86_400),
            solid: SolidEndpoints(
                channels: solidChannels, store: store, hub: hub, access: access, streams: streams,
                maximumBodyBytes: configuration.maximumBodyBytes, limitPerSubject: configuration.maximumRegistrationsPerSubject),
            webAssets: WebAssets(),
            status: StatusStream(
                sampler: StatusSampler(
                    store: store, openConnections: { [connections] in connections.openConnections },
                    subscriptions: { [hub] in StatusRoutes.subscriptions(of: hub) }),
                access: access),
            access: access,
            writeLimits: WriteLimits(limiter: RateLimiter(ratePerSecond: configuration.writesPerSecond, burst: configuration.writeBurst)),
            maximumBodyBytes: configuration.maximumBodyBytes,
            scheme: configuration.servesTLS ? "https" : "http",
            cors: CORS(allowedOrigins: Set(configuration.corsOrigins))
        ).makeResponder()
        return Application(
            responder: responder,
            server: try makeServerBuilder(solidChannels: solidChannels),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "Eddy"),
            services: [
                StoreLifecycle(store: store, hub: hub, logger: logger),
                RetentionService(
                    store: store, policy: configuration.retention, intervalSeconds: configuration.retentionIntervalSeconds, holder: nodeID,
                    logger: logger),
                PolicyReloader(server: self),
                webhooks,
                solidChannels,
                federation,
            ] + MetricsListener.services(for: self),
            onServerRunning: onServerRunning,
            logger: logger)
    }

    private func webSocketRoutes(solidChannels: SolidChannels) -> WebSocketRoutes {
        let multiplexSocket = MultiplexSocket(
            hub: hub, store: store, access: access, maximumSubscriptions: configuration.maximumSubscriptionsPerConnection,
            maximumMessageBytes: configuration.maximumWebSocketMessageBytes, bufferMessages: configuration.subscriberBufferEvents)
        return WebSocketRoutes(
            services: [
                ByteIdentity(LiveEndpoints.multiplexSocket): multiplexSocket,
                ByteIdentity(Concrnt.realtimePath): ConcrntRealtime(
                    hub: hub, access: access, maximumSubscriptions: configuration.maximumSubscriptionsPerConnection,
                    maximumMessageBytes: configuration.maximumWebSocketMessageBytes, bufferMessages: configuration.subscriberBufferEvents),
                ByteIdentity(LegacySocket.path): LegacySocket(
                    hub: hub, access: access, scheme: configuration.servesTLS ? "https" : "http",
                    maximumSubscriptions: configuration.maximumSubscriptionsPerConnection,
                    maximumMessageBytes: configuration.maximumWebSocketMessageBytes, bufferMessages: configuration.subscriberBufferEvents),
            ],
            solid: SolidSocket(channels: solidChannels, hub: hub, access: access, epoch: store.epoch, bufferMessages: configuration.subscriberBufferEvents),
            access: access,
            cors: CORS(allowedOrigins: Set(configuration.corsOrigins)),
            maximumMessageBytes: configuration.maximumWebSocketMessageBytes,
            pinger: KeepAliveTicker(intervalSeconds: configuration.webSocketPingSeconds))
    }

    private func makeServerBuilder(solidChannels: SolidChannels) throws -> HTTPServerBuilder {
        let limits = configuration
        let logger = self.logger
        let http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: [
                HeaderLimitHandler(maximumBytes: limits.maximumHeaderBytes, logger: logger),
                BodyTimeoutHandler(timeout: .milliseconds(Int64(limits.bodyTimeoutSeconds * 1000)), logger: logger),
            ],
            idleTimeout: .milliseconds(Int64(limits.headerTimeoutSeconds * 1000)),
            httpDecoderConfiguration: .init(
                maxHeaderFieldSize: limits.maximumHeaderBytes, maxHeaderListSize: limits.maximumHeaderBytes, maxHeaderFieldCount: 200))
        let connections = self.connections
        let mailboxes = self.mailboxes
        let routes = webSocketRoutes(solidChannels: solidChannels)
        var webSocket = WebSocketServerConfiguration(
            maxFrameSize: limits.maximumWebSocketMessageBytes, autoPing: .enabled(timePeriod: .seconds(limits.webSocketPingSeconds)))
        webSocket.validateUTF8 = true
        let upgrading = HTTP1WebSocketUpgradeChannel.Configuration(http1: http1, ws: webSocket)
        let firstRequest = FirstRequestHandlers(
            timeout: .milliseconds(Int64(limits.headerTimeoutSeconds * 1000)), maximumHeaderBytes: limits.maximumHeaderBytes,
            maximumWebSocketMessageBytes: limits.maximumWebSocketMessageBytes, logger: logger)
        guard let certificateFile = limits.tlsCertificateFile, let keyFile = limits.tlsKeyFile else {
            return HTTPServerBuilder { responder in
                GuardedChannel(
                    base: HTTP1WebSocketUpgradeChannel(responder: responder, configuration: upgrading, shouldUpgrade: { request, channel, _ in
                        await routes.shouldUpgrade(request, channel: channel)
                    }),
                    limiter: connections, firstRequest: firstRequest, mailboxes: mailboxes)
            }
        }
        let tls: TLSConfiguration
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificateFile.path).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: keyFile.path, format: .pem)
            tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        } catch {
            throw ConfigurationError("cannot load the TLS certificate or key: \(error)")
        }
        let http2 = HTTP2ChannelConfiguration(idleTimeout: .seconds(limits.headerTimeoutSeconds), streamConfiguration: http1)
        return HTTPServerBuilder { responder in
            GuardedChannel(
                base: try SecureHTTPChannel(
                    tlsConfiguration: tls,
                    http1: HTTP1WebSocketUpgradeChannel(responder: responder, configuration: upgrading, shouldUpgrade: { request, channel, _ in
                        await routes.shouldUpgrade(request, channel: channel)
                    }),
                    http2: HTTP2Channel(responder: responder, configuration: http2),
                    firstRequest: firstRequest, mailboxes: mailboxes),
                limiter: connections, firstRequest: nil, mailboxes: mailboxes)
        }
    }
}

public struct ConfigurationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
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

/// Reloads the access policy on SIGHUP.
struct PolicyReloader: Service {
    let server: EddyServer

    func run() async throws {
        guard server.configuration.policyFile != nil else {
            try? await gracefulShutdown()
            return
        }
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            do {
                try server.reloadPolicy()
            } catch {
                server.logger.error("policy reload failed; keeping the previous policy", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// Trims the change log to the retention policy, periodically.
struct RetentionService: Service {
    let store: any ResourceStore
    let policy: RetentionPolicy
    let intervalSeconds: Int
    /// Only the node holding the retention lease trims a shared log.
    let holder: String
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(intervalSeconds)) }
            } catch {
                return
            }
            do {
                guard try await store.acquireLease("retention", holder: holder, seconds: Double(intervalSeconds) * 2.5) else { continue }
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                let removed = try await store.applyRetention(policy, now: now)
                if removed > 0 { logger.info("retention dropped events", metadata: ["count": "\(removed)"]) }
            } catch {
                logger.error("retention failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
