import EddyCore
import Foundation
import NIOCore

/// Headless Chromium driven through chromedriver's WebDriver HTTP API: no Python or Node in the
/// test run. Debian's `chromium` and `chromium-driver` packages provide both binaries.
enum Browser {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }
    static let chromedriver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// On a developer machine without Chromium the browser tests are skipped; under CI they run
    /// (and fail loudly) whatever is installed, so a missing package cannot hide them.
    static var shouldRun: Bool {
        (chromium != nil && chromedriver != nil) || ProcessInfo.processInfo.environment["CI"] != nil
    }
}

/// One chromedriver process with one headless browser session.
/// Unchecked: `process` and `sessionURL` are set once in `start()` and only read afterwards.
final class WebDriver: @unchecked Sendable {
    private let process = Process()
    private let logFile: URL
    private var sessionURL = ""

    private init(logFile: URL) {
        self.logFile = logFile
    }

    static func start() async throws -> WebDriver {
        guard let chromedriver = Browser.chromedriver, let chromium = Browser.chromium else {
            throw TestFailure("browser tests need Chromium and chromedriver: apt-get install chromium chromium-driver")
        }
        var lastError: (any Error)?
        // A port picked at random may be taken; try a few.
        for _ in 0..<5 {
            let port = Int.random(in: 20_000..<60_000)
            let driver = WebDriver(logFile: FileManager.default.temporaryDirectory.appendingPathComponent("chromedriver-\(UUID().uuidString).log"))
            do {
                try await driver.launch(chromedriver: chromedriver, chromium: chromium, port: port)
                return driver
            } catch {
                lastError = error
                await driver.stop()
            }
        }
        throw lastError ?? TestFailure("chromedriver did not start")
    }

    private func launch(chromedriver: String, chromium: String, port: Int) async throws {
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let log = try FileHandle(forWritingTo: logFile)
        process.executableURL = URL(fileURLWithPath: chromedriver)
        process.arguments = ["--port=\(port)", "--allowed-ips=127.0.0.1"]
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let base = "http://127.0.0.1:\(port)"
        let deadline = Date().addingTimeInterval(20)
        while true {
            guard process.isRunning else { throw TestFailure("chromedriver exited: \(self.log)") }
            if let status = try? await TestHTTP.send(.GET, base + "/status", timeout: .seconds(2)),
                status.json?["value"]?["ready"] == .bool(true)
            {
                break
            }
            guard Date() < deadline else { throw TestFailure("chromedriver did not get ready: \(self.log)") }
            try await Task.sleep(for: .milliseconds(100))
        }
        // Root in a container needs --no-sandbox; /dev/shm is often tiny there.
        let arguments = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--window-size=1280,900"]
        let capabilities = """
            {"capabilities":{"alwaysMatch":{"browserName":"chrome","goog:chromeOptions":{"binary":\(JSONValue.quoted(chromium)),\
            "args":[\(arguments.map(JSONValue.quoted).joined(separator: ","))]}}}}
            """
        let created = try await TestHTTP.send(.POST, base + "/session", body: capabilities, timeout: .seconds(60))
        guard created.status == 200, case .string(let id)? = created.json?["value"]?["sessionId"] else {
            throw TestFailure("no WebDriver session: \(created.status) \(created.body)")
        }
        sessionURL = base + "/session/" + id
    }

    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    func navigate(_ url: String) async throws {
        _ = try await command("/url", body: "{\"url\":\(JSONValue.quoted(url))}")
    }

    /// Runs a script (a function body; `arguments` holds the arguments) and returns its result.
    @discardableResult
    func execute(_ script: String, _ arguments: [String] = []) async throws -> JSONValue {
        let body = "{\"script\":\(JSONValue.quoted(script)),\"args\":[\(arguments.map(JSONValue.quoted).joined(separator: ","))]}"
        return try await command("/execute/sync", body: body)
    }

    /// Polls a script until it returns something other than null/false, or fails after `seconds`.
    func waitFor(_ what: String, seconds: Double = 15, script: String) async throws -> JSONValue {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let value = try await execute(script)
            if value != .null, value != .bool(false) { return value }
            guard Date() < deadline else {
                let console = (try? await execute("return JSON.stringify(window.log ?? null)")).map(\.text) ?? "?"
                throw TestFailure("timed out after \(seconds) s waiting for \(what); page log: \(console)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Lays the page out as on a screen of this size in CSS pixels (a phone's when `mobile`),
    /// through Chrome's DevTools protocol: a window cannot be made narrower than the desktop
    /// minimum, a viewport can.
    func emulateViewport(width: Int, height: Int, mobile: Bool) async throws {
        let parameters = "{\"width\":\(width),\"height\":\(height),\"deviceScaleFactor\":1,\"mobile\":\(mobile)}"
        _ = try await command("/goog/cdp/execute", body: "{\"cmd\":\"Emulation.setDeviceMetricsOverride\",\"params\":\(parameters)}")
    }

    /// The visible part of the page as PNG bytes.
    func screenshot() async throws -> Data {
        let reply = try await TestHTTP.send(.GET, sessionURL + "/screenshot", timeout: .seconds(60))
        guard reply.status == 200, case .string(let base64)? = reply.json?["value"], let png = Data(base64Encoded: base64) else {
            throw TestFailure("WebDriver /screenshot failed: \(reply.status)")
        }
        return png
    }

    private func command(_ path: String, body: String) async throws -> JSONValue {
        let reply = try await TestHTTP.send(.POST, sessionURL + path, body: body, timeout: .seconds(60))
        guard reply.status == 200, let value = reply.json?["value"] else {
            throw TestFailure("WebDriver \(path) failed: \(reply.status) \(reply.body)")
        }
        return value
    }

    /// Ends the browser session, then the driver process.
    func stop() async {
        if !sessionURL.isEmpty { _ = try? await TestHTTP.send(.DELETE, sessionURL, timeout: .seconds(20)) }
        sessionURL = ""
        if process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: logFile)
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
