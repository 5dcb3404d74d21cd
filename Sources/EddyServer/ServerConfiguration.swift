import EddyCore
import Foundation

/// Everything `eddy serve` can be told. Every limit lives here, with its default.
public struct ServerConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    public var dataDirectory: URL = URL(fileURLWithPath: "eddy-data")
    /// `postgres://…` runs on the shared cluster store instead of the embedded one in
    /// `dataDirectory`; several nodes may share it.
    public var storeURL: String?
    /// Seconds a node holds the lease for work done once across nodes (webhook deliveries,
    /// retention) without renewing it; a dead node's work moves on after this long.
    public var leaseSeconds: Double = 10
    /// The largest request body accepted, in bytes (413 beyond it).
    public var maximumBodyBytes: Int = 1 << 20
    /// `GET /coll/` returns this many items unless `?max=` asks for another number…
    public var defaultListLimit: Int = 50
    /// …and never more than this.
    public var maximumListLimit: Int = 1000
    /// How long the change log is kept.
    public var retention = RetentionPolicy()
    /// How often retention runs, in seconds.
    public var retentionIntervalSeconds: Int = 60
    /// Events one streaming subscriber may have queued before it is dropped as too slow.
    public var subscriberBufferEvents: Int = 256
    /// Long per-URI encoding keys held once for all subscribers; past this many, a new key is
    /// kept by each subscriber using it (slower fan-out, same deliveries).
    public var sharedEncodingKeys: Int = EncodingKeys.defaultLimit
    /// The longest a long-poll is held, whatever `Wait` asks (clients time out at 60 s).
    public var maximumWaitSeconds: Double = 55
    /// Seconds between SSE comment keep-alives.
    public var keepAliveSeconds: Double = 15
    public var sqlite = SQLiteSettings()
    /// Bytes of resource values either store keeps in memory for reads (0: none); `ResourceCache`.
    public var readCacheBytes = ResourceCache.Limits.standard.bytes
    /// Where `GET /metrics` (Prometheus) is served, on a listener apart from the API; nil: off.
    public var metricsAddress: MetricsAddress?
    /// Whether the metrics listener may be on an address other machines reach: it answers
    /// anyone, without the access policy.
    public var metricsPublic = false

    // MARK: Access

    /// HS256 secret for bearer tokens.
    public var jwtSecret: String?
    /// A JWKS document whose public keys verify bearer tokens.
    public var jwksFile: URL?
    /// The access policy; without one Eddy is open, which it allows only on loopback.
    public var policyFile: URL?

    /// Origins allowed to call with credentials (cookies); any other origin gets `*` without.
    public var corsOrigins: [String] = []

    /// Seconds per chunk of Chunked Timelines (CIP-4).
    public var timelineChunkSeconds: Int = 300
    /// How far a Concrnt document's `createdAt` may be from the server's clock, in seconds.
    public var concrntMaximumSkewSeconds: Double = 300
    /// Concrnt servers asked where an entity lives (`Federation`).
    public var concrntPeers: [URL] = []

    // MARK: Limits

    /// The largest header section of a request, in bytes (431 beyond it).
    public var maximumHeaderBytes: Int = 32 * 1024
    /// Seconds a connection may take to send a request head, counted from when it opened or
    /// its previous response ended; also how long an idle keep-alive connection is kept.
    public var headerTimeoutSeconds: Double = 30
    /// Seconds a request body may take to arrive in full, counted from the end of its head
    /// (408 beyond): a body trickled a byte at a time never looks idle.
    public var bodyTimeoutSeconds: Double = 60
    /// Open connections one client address may hold (429, or closed for TLS, beyond it).
    public var maximumConnectionsPerAddress: Int = 1000
    /// Resources one multiplexed request or WebSocket may watch at once.
    public var maximumSubscriptionsPerConnection: Int = 256
    /// The largest WebSocket message a client may send, in bytes (close 1009 beyond it).
    public var maximumWebSocketMessageBytes: Int = 64 * 1024
    /// Seconds between pings on idle WebSockets; a socket that misses one is closed.
    public var webSocketPingSeconds: Double = 30
    /// Writes per second one subject (or, when anonymous, one address) may make on average…
    public var writesPerSecond: Double = 100
    /// …with bursts up to this many (429 with Retry-After beyond it).
    public var writeBurst: Double = 200

    // MARK: Outbound

    /// Retries and timeouts of webhook deliveries.
    public var delivery = DeliveryPolicy()
    /// Webhooks and notification channels one subject (or anonymous callers together) may hold.
    public var maximumRegistrationsPerSubject: Int = 100

    /// Address blocks webhooks may reach although they are loopback, private or link-local.
    public var allowOutbound: [CIDR] = []

    // MARK: TLS

    /// PEM certificate chain and private key; with both, Eddy serves HTTPS (HTTP/2 by ALPN).
    public var tlsCertificateFile: URL?
    public var tlsKeyFile: URL?

    public var servesTLS: Bool { tlsCertificateFile != nil && tlsKeyFile != nil }

    /// Whether `host` is a loopback address, where running without a policy is allowed.
    public var listensOnLoopbackOnly: Bool {
        let host = self.host.lowercased()
        return host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    public struct SQLiteSettings: Sendable {
        /// Whether every commit waits for fsync (`full`) or only for the OS (`normal`).
        public var synchronousFull: Bool = true
        public init() {}
    }

    public init() {}
}
