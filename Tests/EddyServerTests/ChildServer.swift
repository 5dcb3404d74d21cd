import EddyTestSupport
import Foundation

/// `eddy serve` as a child process, for tests that kill or signal it.
/// Unchecked: after `start()` the fields are only read, and `kill(2)` is safe from any thread.
final class ChildServer: @unchecked Sendable {
    let process = Process()
    let dataDirectory: URL
    let outputFile: URL
    private(set) var baseURL = ""

    /// The `eddy` executable built next to the test bundle.
    static var executable: URL {
        get throws {
            var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            for _ in 0..<4 {
                let candidate = directory.appendingPathComponent("eddy")
                if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
                directory = directory.deletingLastPathComponent()
            }
            throw TestFailure("no eddy executable near \(CommandLine.arguments[0])")
        }
    }

    /// `port` 0 takes any free port; a restart passes the port the first start reported.
    init(dataDirectory: URL, port: Int = 0, arguments: [String] = []) throws {
        self.dataDirectory = dataDirectory
        outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-child-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        process.executableURL = try Self.executable
        let store = TestStore.url(for: dataDirectory).map { ["--store", $0] } ?? []
        process.arguments = ["serve", "--port", String(port), "--data", dataDirectory.path] + store + arguments
        let output = try FileHandle(forWritingTo: outputFile)
        process.standardOutput = output
        process.standardError = output
    }

    /// Starts the process and waits for the line that says where it listens.
    func start() async throws {
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let match = output.firstMatch(of: /Eddy listening on (http:\/\/[0-9.]+:[0-9]+)/) {
                baseURL = String(match.1)
                return
            }
            guard process.isRunning else { throw TestFailure("eddy exited early: \(output)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure("eddy did not report its address: \(output)")
    }

    /// The port the server reported listening on.
    var port: Int { Int(baseURL.split(separator: ":").last ?? "") ?? 0 }

    /// The metrics listener's URL, when started with `--metrics`.
    var metricsURL: String? {
        output.firstMatch(of: /metrics +(http:\/\/[0-9.]+:[0-9]+\/metrics)/).map { String($0.1) }
    }

    var output: String {
        (try? String(contentsOf: outputFile, encoding: .utf8)) ?? ""
    }

    func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for the process to end and returns its exit status.
    func waitForExit(seconds: Double = 20) async throws -> Int32 {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            guard Date() < deadline else {
                signal(SIGKILL)
                throw TestFailure("eddy did not exit within \(seconds) s: \(output)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: outputFile)
    }
}
