import EddyCore
import EddyServer
import Foundation
import Testing

/// The live page laid out on a laptop and on a phone: nothing runs off the side, the status
/// panel's chart draws from its stream, and a screenshot of each is kept for a person to look at
/// (in `$TMPDIR/eddy-screenshots/`).
@Suite(.serialized, .enabled(if: Browser.shouldRun, "needs chromium and chromium-driver (always runs when CI is set)"))
struct BrowserLayoutTests {
    static let screens: [(name: String, width: Int, height: Int, mobile: Bool)] = [
        ("laptop", 1280, 800, false), ("phone", 390, 844, true),
    ]

    /// Elements whose right edge lies past the viewport, with the page's own scroll width.
    static let overflow = """
        const width = document.documentElement.clientWidth;
        const out = [...document.querySelectorAll('body *')]
          .filter((element) => element.getClientRects().length > 0 && element.getBoundingClientRect().right > width + 0.5)
          .map((element) => element.id || element.tagName.toLowerCase());
        return JSON.stringify({ width, innerWidth: window.innerWidth, scrollWidth: document.documentElement.scrollWidth, out });
        """

    @Test(arguments: screens.indices)
    func thePageFitsTheScreenAndDrawsTheStatusChart(screen: Int) async throws {
        let (name, width, height, mobile) = Self.screens[screen]
        let driver = try await WebDriver.start()
        do {
            try await TestServer.with { server in
                _ = try await server.send(.PUT, "/layout/note", json: #"{"text":"a value long enough to wrap on a phone, and then some more words"}"#)
                try await driver.emulateViewport(width: width, height: height, mobile: mobile)
                try await driver.navigate(server.baseURL + "/.eddy/app/#/layout/note")
                _ = try await driver.waitFor("the WebSocket", script: "return document.getElementById('via').textContent === 'ws'")
                _ = try await driver.waitFor("the status stream", script: "return document.getElementById('status-state').textContent === 'live'")

                // A burst of writes: the next sample sees the head move and the line rises.
                for index in 0..<20 {
                    _ = try await server.send(.PUT, "/layout/burst", json: #"{"n":\#(index)}"#)
                }
                _ = try await driver.waitFor(
                    "the chart to draw the burst",
                    script: "const chart = document.getElementById('status-chart'); return Number(chart.dataset.points) >= 2 && Number(chart.dataset.max) > 1")
                guard case .string(let points) = try await driver.execute("return document.getElementById('status-line').getAttribute('points')")
                else { throw TestFailure("the chart has no line") }
                #expect(points.split(separator: " ").count >= 2, "polyline points: \(points)")
                // The page's own socket is among the connections the panel lists.
                _ = try await driver.waitFor(
                    "the page's own subscription in the panel",
                    script: "return [...document.querySelectorAll('#status-connections tr')].some((row) => row.dataset.protocol === 'liveresource/websocket' && Number(row.cells[1].textContent) >= 1)")

                guard case .string(let measured) = try await driver.execute(Self.overflow) else { throw TestFailure("no layout measured") }
                let layout = try JSONValue(parsing: measured)
                #expect(layout["innerWidth"] == .int(Int64(width)), "viewport: \(measured)")
                #expect(layout["scrollWidth"] == layout["width"], "the page scrolls sideways: \(measured)")
                #expect(layout["out"] == .array([]), "past the right edge: \(measured)")

                let png = try await driver.screenshot()
                try Self.expectPNG(png, width: width, height: height)
                let folder = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-screenshots")
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                try png.write(to: folder.appendingPathComponent("live-page-\(name)-\(width)x\(height).png"))
                // Left before the server stops, so the page's sockets do not hold up the shutdown.
                try await driver.navigate("about:blank")
            }
        } catch {
            try? await driver.navigate("about:blank")
            await driver.stop()
            throw error
        }
        await driver.stop()
    }

    /// A PNG of the emulated screen's size: the signature, then IHDR's width and height.
    static func expectPNG(_ png: Data, width: Int, height: Int) throws {
        let bytes = [UInt8](png.prefix(24))
        try #require(bytes.count == 24 && bytes[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "not a PNG")
        func big(_ offset: Int) -> Int { bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) } }
        #expect(big(16) == width && big(20) == height, "screenshot is \(big(16))×\(big(20))")
    }
}
