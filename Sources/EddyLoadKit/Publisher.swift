import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// Sends `spec.count` stamped requests, paced at `spec.rate` (open loop: a slow answer does not
/// delay the next send unless all `concurrency` writers are busy), or back to back when the
/// rate is 0 (closed loop, for the durable-writes figure).
public enum Publisher {
    public static func run(_ spec: PublishSpec) async throws -> PublishResult {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(spec.concurrency, 1)
        configuration.timeout.connect = .seconds(10)
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        var result = PublishResult()
        result.succeededByTopic = Array(repeating: 0, count: max(spec.topics, 1))
        result.started = nowNanoseconds()
        let start = ContinuousClock.now
        await withTaskGroup(of: Outcome.self) { tasks in
            var inFlight = 0
            for n in 0..<spec.count {
                // A server that has died would otherwise have every remaining request retry its
                // connection until its deadline: stop once nothing has succeeded for a while.
                if result.consecutiveFailures >= 32 { break }
                if spec.rate > 0 {
                    let due = start + .nanoseconds(Int64(Double(n) / spec.rate * 1e9))
                    if due > ContinuousClock.now { try? await Task.sleep(until: due, clock: .continuous) }
                }
                if inFlight >= max(spec.concurrency, 1), let outcome = await tasks.next() {
                    inFlight -= 1
                    result.add(outcome)
                }
                inFlight += 1
                tasks.addTask { await send(spec, n: n, client: client) }
                result.sent += 1
            }
            for await outcome in tasks { result.add(outcome) }
        }
        result.finished = nowNanoseconds()
        try await client.shutdown()
        return result
    }

    struct Outcome: Sendable {
        var topic: Int
        var microseconds: UInt64
        var failure: String?
    }

    private static func send(_ spec: PublishSpec, n: Int, client: HTTPClient) async -> Outcome {
        let topic = n % max(spec.topics, 1)
        let t = nowNanoseconds()
        var request = HTTPClientRequest(url: fill(spec.urlTemplate, t: t, n: n, topic: topic))
        request.method = HTTPMethod(rawValue: spec.method)
        for line in spec.headers {
            guard let colon = line.firstIndex(of: ":") else { continue }
            request.headers.add(name: String(line[..<colon]), value: String(line[line.index(after: colon)...].drop { $0 == " " }))
        }
        request.body = .bytes(ByteBuffer(string: fill(spec.bodyTemplate, t: t, n: n, topic: topic)))
        var failure: String?
        do {
            let response = try await client.execute(request, timeout: .seconds(20))
            _ = try await response.body.collect(upTo: 1 << 20)
            if !(200..<300).contains(response.status.code) { failure = "status \(response.status.code)" }
        } catch {
            failure = "\(error)"
        }
        return Outcome(topic: topic, microseconds: (nowNanoseconds() - t) / 1000, failure: failure)
    }
}

extension PublishResult {
    mutating func add(_ outcome: Publisher.Outcome) {
        if let failure = outcome.failure {
            failed += 1
            consecutiveFailures += 1
            if firstFailure == nil { firstFailure = failure }
        } else {
            consecutiveFailures = 0
            succeeded += 1
            succeededByTopic[outcome.topic] += 1
            latency.record(outcome.microseconds)
        }
    }
}
