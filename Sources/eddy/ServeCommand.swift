import ArgumentParser
import EddyServer
import Foundation
import Hummingbird
import Logging

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

    @Option(help: "Seconds between keep-alive comments on event streams (EDDY_KEEP_ALIVE).")
    var keepAlive: Double = environment("KEEP_ALIVE").flatMap(Double.init) ?? 15

    @Option(help: "SQLite durability: full (fsync each commit) or normal (EDDY_SYNC).")
    var sync: String = environment("SYNC") ?? "full"

    @Option(help: "Log level: trace, debug, info, notice, warning, error (EDDY_LOG_LEVEL).")
    var logLevel: String = environment("LOG_LEVEL") ?? "info"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard maxBodyBytes > 0, maxList > 0, retainEvents > 0, retainSeconds > 0, retentionInterval > 0, subscriberBuffer > 0
        else { throw ValidationError("limits must be positive numbers") }
        guard keepAlive > 0 else { throw ValidationError("--keep-alive must be positive") }
        guard ["full", "normal"].contains(sync) else { throw ValidationError("--sync must be full or normal") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
    }

    func run() async throws {
        var logger = Logger(label: "eddy")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info

        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.dataDirectory = URL(fileURLWithPath: data)
        configuration.maximumBodyBytes = maxBodyBytes
        configuration.maximumListLimit = maxList
        configuration.retention = .init(maximumEvents: retainEvents, maximumAgeSeconds: retainSeconds)
        configuration.retentionIntervalSeconds = retentionInterval
        configuration.subscriberBufferEvents = subscriberBuffer
        configuration.keepAliveSeconds = keepAlive
        configuration.sqlite.synchronousFull = sync == "full"

        let server: EddyServer
        do {
            server = try EddyServer(configuration: configuration, logger: logger)
        } catch {
            throw ValidationError("cannot open the store in \(data): \(error)")
        }
        let host = self.host
        let app = server.makeApplication { channel in
            let port = channel.localAddress?.port ?? 0
            let shownHost = host.contains(":") ? "[\(host)]" : host
            // Written straight to the file descriptor so a parent process reading a pipe sees it at once.
            FileHandle.standardOutput.write(Data("Eddy listening on http://\(shownHost):\(port)\n".utf8))
        }
        try await app.runService()
    }
}
