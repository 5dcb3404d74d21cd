import ArgumentParser
import EddyLoadKit
import Foundation

@main
struct EddyLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eddy-load",
        abstract: "Open many subscribers, publish stamped events, report latency, loss and server RSS.",
        subcommands: [RunCommand.self, WorkerCommand.self],
        defaultSubcommand: RunCommand.self
    )
}

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run one workload (the default).")

    @Option(help: "Subscriber kind: sse, ws or longpoll.")
    var kind: String = "sse"
    @Option(help: "Subscriber URL template ({topic}); ws://… for WebSocket.")
    var url: String
    @Option(name: .customLong("header"), help: "Extra subscriber request header, 'Name: value'; repeatable.")
    var headers: [String] = []
    @Option(help: "Sec-WebSocket-Protocol to offer.")
    var wsProtocol: String?
    @Option(help: "Text message sent after the WebSocket upgrade ({topic}); the reply marks the subscriber ready.")
    var wsSubscribe: String?
    @Option(help: "Subscribers in all.")
    var subscribers: Int = 100
    @Option(help: "Topics: subscriber i watches i % topics, event n goes to n % topics.")
    var topics: Int = 1
    @Option(help: "Source addresses 127.0.0.2 … 127.0.0.(1+N) to spread connections over; 0 lets the kernel choose.")
    var sourceAddresses: Int = 0
    @Option(help: "Worker processes holding subscribers; 0 keeps them in this process.")
    var workers: Int = 0
    @Option(help: "Event-loop threads per process holding subscribers.")
    var loops: Int = 1
    @Option(help: "Connection attempts in flight per process.")
    var connectConcurrency: Int = 200

    @Option(help: "Publish URL template ({t}, {n}, {topic}).")
    var publishURL: String?
    @Option(help: "Publish method.")
    var publishMethod: String = "PUT"
    @Option(name: .customLong("publish-header"), help: "Publish request header; repeatable (default Content-Type: application/json).")
    var publishHeaders: [String] = []
    @Option(help: "Publish body template; must carry {t} and {n} as JSON numbers under \"t\" and \"n\".")
    var publishBody: String = "{\"t\":{t},\"n\":{n}}"
    @Option(help: "Events to publish.")
    var events: Int = 0
    @Option(help: "Events per second; 0 = as fast as the writers go.")
    var rate: Double = 10
    @Option(help: "Concurrent publish requests.")
    var writers: Int = 8

    @Option(help: "Seconds between all subscribers ready and the first publish.")
    var settle: Double = 1
    @Option(help: "Seconds to keep listening after publishing.")
    var drain: Double = 3
    @Option(help: "Seconds to hold connections with nothing published.")
    var hold: Double = 0
    @Option(name: .customLong("server-pid"), help: "Process whose RSS is read before and after; repeatable (summed).")
    var serverPIDs: [Int32] = []
    @Flag(help: "Print the full report as JSON after the summary.")
    var json = false

    func run() async throws {
        raiseFileLimit()
        guard let kind = SubscriberKind(rawValue: kind) else { throw ValidationError("--kind must be sse, ws or longpoll") }
        var subscriberSpec = SubscriberSpec(kind: kind, urlTemplate: url, count: subscribers)
        subscriberSpec.headers = headers
        subscriberSpec.webSocketProtocol = wsProtocol
        subscriberSpec.webSocketSubscribe = wsSubscribe
        subscriberSpec.topics = topics
        subscriberSpec.sources = (0..<sourceAddresses).map { "127.0.\(($0 + 2) / 256).\(($0 + 2) % 256)" }
        subscriberSpec.connectConcurrency = connectConcurrency
        var publishSpec = PublishSpec(urlTemplate: publishURL ?? "", count: publishURL == nil ? 0 : events, rate: rate)
        publishSpec.method = publishMethod
        if !publishHeaders.isEmpty { publishSpec.headers = publishHeaders }
        publishSpec.bodyTemplate = publishBody
        publishSpec.concurrency = writers
        publishSpec.topics = topics
        var spec = LoadSpec(subscribers: subscriberSpec, publish: publishSpec)
        spec.workers = workers
        spec.loops = loops
        spec.settle = settle
        spec.drain = drain
        spec.hold = hold
        spec.serverPIDs = serverPIDs
        let report = try await LoadRun.run(spec) { message in
            FileHandle.standardError.write(Data("eddy-load: \(message)\n".utf8))
        }
        print(report.summary)
        if json { print(String(decoding: try JSONEncoder().encode(report), as: UTF8.self)) }
    }
}

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Hold a share of the subscribers for a coordinating eddy-load (stdin/stdout protocol).")

    func run() async throws {
        raiseFileLimit()
        try await Worker.serve()
    }
}

/// The soft limit is often 1,024 while the hard one allows the 20,000 a worker needs.
func raiseFileLimit() {
    // Peers that reset connections, or a coordinator that is gone, must give errors, not kill us.
    signal(SIGPIPE, SIG_IGN)
    var limit = rlimit()
    guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
}
