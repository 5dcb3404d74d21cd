import EddyCore
import Foundation

/// Everything `eddy serve` can be told. Every limit lives here, with its default.
public struct ServerConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    public var dataDirectory: URL = URL(fileURLWithPath: "eddy-data")
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
    /// Seconds between SSE comment keep-alives.
    public var keepAliveSeconds: Double = 15
    public var sqlite = SQLiteSettings()

    public struct SQLiteSettings: Sendable {
        /// Whether every commit waits for fsync (`full`) or only for the OS (`normal`).
        public var synchronousFull: Bool = true
        public init() {}
    }

    public init() {}
}
