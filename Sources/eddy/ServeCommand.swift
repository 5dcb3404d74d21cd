import ArgumentParser
import EddyServer
import Foundation
import Hummingbird
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Reads a default from `EDDY_<NAME>` so every flag can also come from the environment.
func environment(_ name: String) -> String? {
    ProcessInfo.processInfo.environment["EDDY_" + name]
}

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the server (the default command).",
        discussion: "Every option can also be set with an environment variable: --max-body-bytes is EDDY_MAX_BODY_BYTES."
    )

    @Option(help: "Address to listen on (EDDY_HOST).")
    var host: String = environment("HOST") ?? "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one (EDDY_PORT).")
    var port: Int = environment("PORT").flatMap(Int.init) ?? 8080

    @Option(help: "Folder holding the embedded store; created if missing (EDDY_DATA).")
    var data: String = environment("DATA") ?? "./eddy-data"

    @Option(help: "postgres://user[:password]@host[:port]/database[?schema=eddy]: share one PostgreSQL database between several nodes instead of the embedded store (EDDY_STORE).")
    var store: String?

    @Option(help: "Seconds a node holds the lease for work done once across nodes: webhooks, retention (EDDY_LEASE_SECONDS).")
    var leaseSeconds: Double = environment("LEASE_SECONDS").flatMap(Double.init) ?? 10

    @Option(help: "Largest accepted request body in bytes (EDDY_MAX_BODY_BYTES).")
    var maxBodyBytes: Int = environment("MAX_BODY_BYTES").flatMap(Int.init) ?? 1 << 20

    @Option(help: "Largest ?max= a collection listing honours (EDDY_MAX_LIST).")
    var maxList: Int = environment("MAX_LIST").flatMap(Int.init) ?? 1000

    @Option(help: "Keep at most this many change-log events (EDDY_RETAIN_EVENTS).")
    var retainEvents: Int = environment("RETAIN_EVENTS").flatMap(Int.init) ?? 1_000_000

    @Option(help: "Drop change-log events older than this many seconds (EDDY_RETAIN_SECONDS).")
    var retainSeconds: Int = environment("RETAIN_SECONDS").flatMap(Int.init) ?? 7 * 24 * 3600

    @Option(help: "Seconds between retention runs (EDDY_RETENTION_INTERVAL).")
    var retentionInterval: Int = environment("RETENTION_INTERVAL").flatMap(Int.init) ?? 60

    @Option(help: "Events a streaming subscriber may have unsent before it is dropped (EDDY_SUBSCRIBER_BUFFER).")
    var subscriberBuffer: Int = environment("SUBSCRIBER_BUFFER").flatMap(Int.init) ?? 256

    @Option(help: "Long per-URI encoding keys held once for all subscribers; past it each subscriber keeps its own (EDDY_SHARED_KEYS).")
    var sharedKeys: Int = environment("SHARED_KEYS").flatMap(Int.init) ?? ServerConfiguration().sharedEncodingKeys

    @Option(help: "Seconds between keep-alive comments on event streams (EDDY_KEEP_ALIVE).")
    var keepAlive: Double = environment("KEEP_ALIVE").flatMap(Double.init) ?? 15

    @Option(help: "SQLite durability: full (fsync each commit) or normal (EDDY_SYNC).")
    var sync: String = environment("SYNC") ?? "full"

    @Option(help: "Bytes of resource values kept in memory for reads, 0 for none (EDDY_READ_CACHE_BYTES).")
    var readCacheBytes: Int = environment("READ_CACHE_BYTES").flatMap(Int.init) ?? ServerConfiguration().readCacheBytes

    @Option(help: "HS256 secret that verifies bearer tokens (EDDY_JWT_SECRET).")
    var jwtSecret: String?

    @Option(help: "JWKS file whose public keys verify bearer tokens (EDDY_JWKS).")
    var jwks: String?

    @Option(help: "Access policy file (JSON); reloaded on SIGHUP. Required unless listening on loopback (EDDY_POLICY).")
    var policy: String?

    @Option(help: "PEM certificate chain: serve HTTPS/WSS, HTTP/2 by ALPN (EDDY_TLS_CERT).")
    var tlsCert: String?

    @Option(help: "PEM private key for --tls-cert (EDDY_TLS_KEY).")
    var tlsKey: String?

    @Option(help: "Largest request header section in bytes; 431 beyond (EDDY_MAX_HEADER_BYTES).")
    var maxHeaderBytes: Int = environment("MAX_HEADER_BYTES").flatMap(Int.init) ?? 32 * 1024

    @Option(help: "Seconds a connection may take to send a request head, and idle keep-alive lifetime (EDDY_HEADER_TIMEOUT).")
    var headerTimeout: Double = environment("HEADER_TIMEOUT").flatMap(Double.init) ?? 30

    @Option(help: "Seconds a request body may take to arrive in full after its head; 408 beyond (EDDY_BODY_TIMEOUT).")
    var bodyTimeout: Double = environment("BODY_TIMEOUT").flatMap(Double.init) ?? 60

    @Option(help: "Open connections per client address (EDDY_MAX_CONNECTIONS_PER_ADDRESS).")
    var maxConnectionsPerAddress: Int = environment("MAX_CONNECTIONS_PER_ADDRESS").flatMap(Int.init) ?? 1000

    @Option(help: "Writes per second per subject, or per address when anonymous (EDDY_WRITE_RATE).")
    var writeRate: Double = environment("WRITE_RATE").flatMap(Double.init) ?? 100

    @Option(help: "Burst of writes allowed above --write-rate (EDDY_WRITE_BURST).")
    var writeBurst: Double = environment("WRITE_BURST").flatMap(Double.init) ?? 200

    @Option(help: "CIDR block webhooks may reach despite being loopback/private; repeatable (EDDY_ALLOW_OUTBOUND, comma-separated).")
    var allowOutbound: [String] = environment("ALLOW_OUTBOUND").map { $0.split(separator: ",").map(String.init) } ?? []

    @Option(help: "Longest a long-poll is held, in seconds (EDDY_MAX_WAIT).")
    var maxWait: Double = environment("MAX_WAIT").flatMap(Double.init) ?? 55

    @Option(help: "Resources per multiplexed request or WebSocket (EDDY_MAX_SUBSCRIPTIONS).")
    var maxSubscriptions: Int = environment("MAX_SUBSCRIPTIONS").flatMap(Int.init) ?? 256

    @Option(help: "Largest WebSocket message in bytes; close 1009 beyond (EDDY_MAX_WS_MESSAGE_BYTES).")
    var maxWsMessageBytes: Int = environment("MAX_WS_MESSAGE_BYTES").flatMap(Int.init) ?? 64 * 1024

    @Option(help: "Seconds between pings on idle WebSockets (EDDY_WS_PING).")
    var wsPing: Double = environment("WS_PING").flatMap(Double.init) ?? 30

    @Option(help: "glibc malloc arenas; fewer keep less of the memory freed after a burst of connections, 0 keeps glibc's 8 per core (EDDY_MALLOC_ARENAS).")
    var mallocArenas: Int = environment("MALLOC_ARENAS").flatMap(Int.init) ?? max(2, ProcessInfo.processInfo.activeProcessorCount)

    @Option(help: "Webhooks one subject may hold (EDDY_MAX_REGISTRATIONS).")
    var maxRegistrations: Int = environment("MAX_REGISTRATIONS").flatMap(Int.init) ?? 100

    @Option(help: "Delivery attempts per webhook event before giving up (EDDY_WEBHOOK_ATTEMPTS).")
    var webhookAttempts: Int = environment("WEBHOOK_ATTEMPTS").flatMap(Int.init) ?? 8

    @Option(help: "Seconds each webhook attempt may take (EDDY_WEBHOOK_TIMEOUT).")
    var webhookTimeout: Double = environment("WEBHOOK_TIMEOUT").flatMap(Double.init) ?? 10

    @Option(help: "Origin allowed to call with cookies; repeatable (EDDY_CORS_ORIGIN, comma-separated).")
    var corsOrigin: [String] = environment("CORS_ORIGIN").map { $0.split(separator: ",").map(String.init) } ?? []

    @Option(help: "Seconds per Chunked Timeline chunk (EDDY_TIMELINE_CHUNK).")
    var timelineChunk: Int = environment("TIMELINE_CHUNK").flatMap(Int.init) ?? 300

    @Option(help: "Seconds a Concrnt document's createdAt may differ from the server's clock (EDDY_CONCRNT_SKEW).")
    var concrntSkew: Double = environment("CONCRNT_SKEW").flatMap(Double.init) ?? 300

    @Option(help: "A Concrnt server asked where an entity lives (its entity endpoint), e.g. https://peer.example; repeatable (EDDY_CONCRNT_PEER, comma-separated).")
    var concrntPeer: [String] = environment("CONCRNT_PEER").map { $0.split(separator: ",").map(String.init) } ?? []

    @Option(help: "host:port serving GET /metrics (Prometheus) apart from the API, e.g. 127.0.0.1:9464; off when unset (EDDY_METRICS).")
    var metrics: String?

    @Flag(help: "Let --metrics listen on an address other machines reach; the metrics have no access control (EDDY_METRICS_PUBLIC=1).")
    var metricsPublic = environment("METRICS_PUBLIC") == "1"

    @Option(help: "Log level: trace, debug, info, notice, warning, error (EDDY_LOG_LEVEL).")
    var logLevel: String = environment("LOG_LEVEL") ?? "info"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard maxBodyBytes > 0, maxList > 0, retainEvents > 0, retainSeconds > 0, retentionInterval > 0, subscriberBuffer > 0
        else { throw ValidationError("limits must be positive numbers") }
        guard sharedKeys >= 0 else { throw ValidationError("--shared-keys must be 0 or more") }
        guard readCacheBytes >= 0 else { throw ValidationError("--read-cache-bytes must be 0 or more") }
        guard bodyTimeout > 0 else { throw ValidationError("--body-timeout must be positive") }
        guard keepAlive > 0, headerTimeout > 0, writeRate > 0, writeBurst >= 1, maxHeaderBytes >= 1024, maxConnectionsPerAddress > 0
        else { throw ValidationError("--keep-alive, --header-timeout, --write-rate, --write-burst, --max-header-bytes (≥ 1024) and --max-connections-per-address must be positive") }
        guard maxWait > 0, maxSubscriptions > 0, maxWsMessageBytes >= 256, wsPing > 0, maxRegistrations > 0, webhookAttempts > 0,
            webhookTimeout > 0
        else { throw ValidationError("--max-wait, --max-subscriptions, --max-ws-message-bytes (≥ 256), --ws-ping, --max-registrations, --webhook-attempts and --webhook-timeout must be positive") }
        guard timelineChunk > 0, concrntSkew > 0 else { throw ValidationError("--timeline-chunk and --concrnt-skew must be positive") }
        for peer in concrntPeer {
            guard let url = URL(string: peer), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil else {
                throw ValidationError("--concrnt-peer \(peer) is not an http(s) URL such as https://peer.example")
            }
        }
        for block in allowOutbound where CIDR(block) == nil {
            throw ValidationError("--allow-outbound \(block) is not a CIDR block such as 127.0.0.0/8")
        }
        guard leaseSeconds >= 1 else { throw ValidationError("--lease-seconds must be at least 1") }
        if let store = store ?? environment("STORE"), !store.hasPrefix("postgres://"), !store.hasPrefix("postgresql://") {
            throw ValidationError("--store must be a postgres:// URL (leave it out for the embedded store in --data)")
        }
        guard ["full", "normal"].contains(sync) else { throw ValidationError("--sync must be full or normal") }
        guard mallocArenas >= 0 else { throw ValidationError("--malloc-arenas must be 0 or more") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
        if let metrics = metrics ?? environment("METRICS") {
            guard let address = MetricsAddress(metrics) else { throw ValidationError("--metrics must be host:port, such as 127.0.0.1:9464") }
            guard address.isLoopback || metricsPublic else {
                throw ValidationError("--metrics \(metrics) is reachable from other machines and the metrics have no access control: pass --metrics-public to allow it")
            }
        }
    }

    /// glibc's `mallopt(M_ARENA_MAX, n)`; the Glibc module exports neither, so it is looked up.
    static func limitMallocArenas(to count: Int) {
        #if canImport(Glibc)
        typealias MallocOption = @convention(c) (Int32, Int32) -> Int32
        let arenaMaximum: Int32 = -8  // M_ARENA_MAX in <malloc.h>
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        _ = unsafeBitCast(symbol, to: MallocOption.self)(arenaMaximum, Int32(clamping: count))
        #endif
    }

    func run() async throws {
        // Before the server's threads start: each thread that allocates would otherwise get an
        // arena of its own, and every arena keeps what a burst of connects freed (issue #7:
        // 0.1–0.2 KiB per idle stream).
        if mallocArenas > 0 { Self.limitMallocArenas(to: mallocArenas) }
        var logger = Logger.eddy()
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info

        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.dataDirectory = URL(fileURLWithPath: data)
        configuration.storeURL = store ?? environment("STORE")
        configuration.leaseSeconds = leaseSeconds
        configuration.maximumBodyBytes = maxBodyBytes
        configuration.maximumListLimit = maxList
        configuration.retention = .init(maximumEvents: retainEvents, maximumAgeSeconds: retainSeconds)
        configuration.retentionIntervalSeconds = retentionInterval
        configuration.subscriberBufferEvents = subscriberBuffer
        configuration.sharedEncodingKeys = sharedKeys
        configuration.keepAliveSeconds = keepAlive
        configuration.sqlite.synchronousFull = sync == "full"
        configuration.readCacheBytes = readCacheBytes
        configuration.jwtSecret = (jwtSecret ?? environment("JWT_SECRET"))
        configuration.jwksFile = (jwks ?? environment("JWKS")).map { URL(fileURLWithPath: $0) }
        configuration.policyFile = (policy ?? environment("POLICY")).map { URL(fileURLWithPath: $0) }
        configuration.tlsCertificateFile = (tlsCert ?? environment("TLS_CERT")).map { URL(fileURLWithPath: $0) }
        configuration.tlsKeyFile = (tlsKey ?? environment("TLS_KEY")).map { URL(fileURLWithPath: $0) }
        configuration.maximumHeaderBytes = maxHeaderBytes
        configuration.headerTimeoutSeconds = headerTimeout
        configuration.bodyTimeoutSeconds = bodyTimeout
        configuration.maximumConnectionsPerAddress = maxConnectionsPerAddress
        configuration.writesPerSecond = writeRate
        configuration.writeBurst = writeBurst
        configuration.allowOutbound = allowOutbound.compactMap(CIDR.init)
        configuration.maximumWaitSeconds = maxWait
        configuration.maximumSubscriptionsPerConnection = maxSubscriptions
        configuration.maximumWebSocketMessageBytes = maxWsMessageBytes
        configuration.webSocketPingSeconds = wsPing
        configuration.maximumRegistrationsPerSubject = maxRegistrations
        configuration.delivery.maximumAttempts = webhookAttempts
        configuration.delivery.timeoutSeconds = webhookTimeout
        configuration.corsOrigins = corsOrigin
        configuration.timelineChunkSeconds = timelineChunk
        configuration.concrntMaximumSkewSeconds = concrntSkew
        configuration.concrntPeers = concrntPeer.compactMap(URL.init(string:))
        configuration.metricsAddress = (metrics ?? environment("METRICS")).flatMap(MetricsAddress.init)
        configuration.metricsPublic = metricsPublic

        let server: EddyServer
        do {
            server = try await EddyServer(configuration: configuration, logger: logger)
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        } catch let error as PolicyError {
            throw ValidationError("the access policy is not usable: \(error)")
        } catch {
            throw ValidationError("cannot start: \(error)")
        }
        let banner = StartupBanner(scheme: configuration.servesTLS ? "https" : "http", host: host)
        let app = try server.makeApplication { channel in
            StartupBanner.write(banner.lines(port: channel.localAddress?.port ?? 0))
        }
        if let metricsAddress = configuration.metricsAddress {
            // Its own listener, which may come up after the API's.
            Task { StartupBanner.write([StartupBanner.metricsLine(host: metricsAddress.host, port: await server.metrics.listening.port())]) }
        }
        try await app.runService()
    }
}
