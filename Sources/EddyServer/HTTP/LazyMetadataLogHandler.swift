import Logging

/// Writes lines as swift-log's `StreamLogHandler` does, but formats metadata only for a line it
/// writes. Hummingbird gives every request a logger with its own request id; `StreamLogHandler`
/// formats all its metadata whenever a key is set, which was about 2.5 % of the server's CPU for
/// each durable write (issue #7, (d)) although almost no request logs anything.
public struct LazyMetadataLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let stream: @Sendable (_ label: String, Logger.MetadataProvider?) -> StreamLogHandler

    /// Lines go to standard error, as with swift-log's default handler.
    public static func standardError(label: String) -> LazyMetadataLogHandler {
        LazyMetadataLogHandler(label: label, stream: StreamLogHandler.standardError(label:metadataProvider:))
    }

    public init(label: String, stream: @escaping @Sendable (_ label: String, Logger.MetadataProvider?) -> StreamLogHandler) {
        self.label = label
        self.stream = stream
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var handler = stream(label, metadataProvider)
        handler.logLevel = logLevel
        handler.metadata = metadata
        handler.log(event: event)
    }
}

extension Logger {
    /// The logger `eddy serve` and a server without one of its own use.
    public static func eddy(label: String = "eddy") -> Logger {
        Logger(label: label, factory: LazyMetadataLogHandler.standardError(label:))
    }
}
