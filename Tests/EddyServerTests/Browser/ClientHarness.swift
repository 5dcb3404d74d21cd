import EddyCore
import Foundation
import Testing

/// The browser with the test page loaded against one Eddy: watch resources, read their events.
struct ClientHarness {
    let driver: WebDriver
    let page: TestPage

    /// Runs `body` with a browser and a test page (on another origin than Eddy), always cleaning up.
    static func with(_ body: (ClientHarness) async throws -> Void) async throws {
        let page = try await TestPage.start()
        let driver: WebDriver
        do {
            driver = try await WebDriver.start()
        } catch {
            await page.stop()
            throw error
        }
        do {
            try await body(ClientHarness(driver: driver, page: page))
        } catch {
            await driver.stop()
            await page.stop()
            throw error
        }
        await driver.stop()
        await page.stop()
    }

    /// Runs `body` against a fresh Eddy that admits the page's origin. The page is left before
    /// the server stops, so no stream or socket of the browser's holds up its shutdown.
    func withEddy(_ body: (TestServer) async throws -> Void) async throws {
        try await TestServer.with(configure: { $0.corsOrigins = [page.origin] }) { server in
            do {
                try await body(server)
            } catch {
                try? await driver.navigate("about:blank")
                throw error
            }
            try await driver.navigate("about:blank")
        }
    }

    func load(eddy: String) async throws {
        try await driver.navigate(page.url(eddy: eddy))
        let ready = try await driver.waitFor("the client module", script: "return window.ready ?? false")
        guard ready == .bool(true) else { throw TestFailure("the test page: \(ready.text)") }
    }

    func watch(_ name: String, _ path: String, transports: [String]?) async throws {
        let list = transports.map { "[" + $0.map(JSONValue.quoted).joined(separator: ",") + "]" } ?? "undefined"
        try await driver.execute("window.watch(arguments[0], arguments[1], \(list))", [name, path])
    }

    func watchUpdates(_ name: String, _ updatesURL: String, transports: [String]) async throws {
        let list = "[" + transports.map(JSONValue.quoted).joined(separator: ",") + "]"
        try await driver.execute("window.watchUpdates(arguments[0], arguments[1], \(list))", [name, updatesURL])
    }

    func lines(_ name: String) async throws -> [String] {
        try await strings("return window.lines(arguments[0])", name)
    }

    func errors(_ name: String) async throws -> [String] {
        try await strings("return window.errors(arguments[0])", name)
    }

    private func strings(_ script: String, _ name: String) async throws -> [String] {
        guard case .array(let items) = try await driver.execute(script, [name]) else { throw TestFailure("not a list") }
        return items.compactMap { if case .string(let line) = $0 { line } else { nil } }
    }

    /// Waits until the resource has logged as many events as expected, then checks them exactly:
    /// a missing event times out, a repeated or extra one makes the lists differ.
    func expect(
        _ name: String, _ expected: [String], ordered: Bool = true, seconds: Double = 15, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        var seen = try await lines(name)
        while seen.count < expected.count, Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
            seen = try await lines(name)
        }
        if ordered ? seen != expected : seen.sorted() != expected.sorted() {
            let errors = try await errors(name)
            Issue.record("\(name): expected \(expected), saw \(seen); errors: \(errors)", sourceLocation: sourceLocation)
            throw TestFailure("\(name): events differ")
        }
    }
}
