import EddyCore
import Foundation
import Testing

@Suite(.serialized) struct WatchCommandTests {
    /// `eddy watch` as a child process writing JSON lines to a file.
    final class Watch: @unchecked Sendable {
        let process = Process()
        let output: URL

        init(_ url: String, protocol transport: String) throws {
            output = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-watch-\(UUID().uuidString).jsonl")
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            process.executableURL = try ChildServer.executable
            process.arguments = ["watch", url, "--protocol", transport]
            process.standardOutput = try FileHandle(forWritingTo: output)
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        var lines: [JSONValue] {
            ((try? String(contentsOf: output, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { try? JSONValue(parsing: String($0)) }
        }

        func waitFor(_ count: Int, seconds: Double = 30) async throws -> [JSONValue] {
            let deadline = ContinuousClock.now + .seconds(seconds)
            while lines.count < count {
                guard ContinuousClock.now < deadline else { throw TestFailure("watch printed \(lines.count) of \(count) lines") }
                try await Task.sleep(for: .milliseconds(50))
            }
            return lines
        }

        deinit {
            if process.isRunning { process.terminate() }
            try? FileManager.default.removeItem(at: output)
        }
    }

    @Test(arguments: ["sse", "ws", "poll"])
    func watchFollowsAResourceThroughARestart(transport: String) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-watch-data-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try ChildServer(dataDirectory: directory)
        try await first.start()
        let port = String(first.baseURL.split(separator: ":").last!)
        let url = first.baseURL + "/watched"
        _ = try await TestHTTP.send(.PUT, url, body: #"{"n":0}"#)
        let watch = try Watch(url, protocol: transport)
        _ = try await watch.waitFor(1)
        for index in 1...2 {
            _ = try await TestHTTP.send(.PUT, url, body: #"{"n":\#(index)}"#)
            _ = try await watch.waitFor(index + 1)
        }
        first.signal(SIGTERM)
        _ = try await first.waitForExit()

        let second = try ChildServer(dataDirectory: directory, arguments: ["--port", port])
        try await second.start()
        defer { second.signal(SIGKILL) }
        // Written while the watcher may still be reconnecting: resuming must deliver them.
        for index in 3...4 { _ = try await TestHTTP.send(.PUT, url, body: #"{"n":\#(index)}"#) }
        if transport != "poll" {
            _ = try await watch.waitFor(5)
            // Nothing repeated after the catch-up either: the next line is the next write.
            _ = try await TestHTTP.send(.PUT, url, body: #"{"n":5}"#)
            let lines = try await watch.waitFor(6)
            #expect(lines.map { $0["data"]?["n"] } == (0...5).map { JSONValue.int(Int64($0)) })
        } else {
            // Long-polling follows values: what changed during the outage arrives as the latest value.
            let deadline = ContinuousClock.now + .seconds(30)
            while watch.lines.last?["data"]?["n"] != .int(4), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            let seen = watch.lines.compactMap { line -> Int64? in if case .int(let n)? = line["data"]?["n"] { n } else { nil } }
            #expect(seen.last == 4)
            #expect(seen == seen.sorted() && Set(seen).count == seen.count)
            #expect(Array(seen.prefix(3)) == [0, 1, 2])
        }
    }
}
