import EddyCore
import EddyServer
import Foundation
import Testing

/// The live page at /.eddy/app/ in headless Chromium: what another client writes shows up.
@Suite(.serialized, .enabled(if: Browser.shouldRun, "needs chromium and chromium-driver (always runs when CI is set)"))
struct BrowserPageTests {
    /// Resolves with the time (ms since 1970) at which the element's text first contains `text`.
    static let observe = """
        const [id, text] = arguments;
        window.seenAt = null;
        const element = document.getElementById(id);
        const check = () => { if (window.seenAt === null && element.textContent.includes(text)) window.seenAt = Date.now(); };
        new MutationObserver(check).observe(element, { childList: true, subtree: true, characterData: true });
        check();
        """

    /// Written with the page's writer gone quiet, and timed inside the browser: the text appears
    /// well within a second of the write being sent.
    private func expectShownWithinASecond(
        _ driver: WebDriver, element: String, text: String, write: () async throws -> Void
    ) async throws {
        try await driver.execute(Self.observe, [element, text])
        let sent = Date().timeIntervalSince1970 * 1000
        try await write()
        let seenAt = try await driver.waitFor("\(text) in #\(element)", seconds: 5, script: "return window.seenAt")
        guard case .int(let milliseconds) = seenAt else { throw TestFailure("seenAt is \(seenAt.text)") }
        let latency = Double(milliseconds) - sent
        #expect(latency < 1000, "shown \(latency) ms after the write")
    }

    /// The page is left before the server stops, so its sockets do not hold up the shutdown.
    private static func withEddy(
        _ driver: WebDriver, configure: (inout ServerConfiguration) -> Void = { _ in }, _ body: (TestServer) async throws -> Void
    ) async throws {
        try await TestServer.with(configure: configure) { server in
            do {
                try await body(server)
            } catch {
                try? await driver.navigate("about:blank")
                throw error
            }
            try await driver.navigate("about:blank")
        }
    }

    @Test func thePageShowsAnotherClientsChangesWithinASecond() async throws {
        let driver = try await WebDriver.start()
        do {
            try await Self.withEddy(driver) { server in
                _ = try await server.send(.PUT, "/page/note", json: #"{"text":"first"}"#)
                _ = try await server.send(.PUT, "/page/list/one", json: #"{"text":"one"}"#)
                try await driver.navigate(server.baseURL + "/.eddy/app/#/page/note")
                _ = try await driver.waitFor("the value", script: #"return document.getElementById('value').textContent.includes('"first"')"#)
                // Live once the client reports the transport it settled on.
                _ = try await driver.waitFor("the WebSocket", script: "return document.getElementById('via').textContent === 'ws'")
                try await expectShownWithinASecond(driver, element: "value", text: "\"second\"") {
                    _ = try await server.send(.PUT, "/page/note", json: #"{"text":"second"}"#)
                }
                // The tree, read from the change log, lists what exists.
                _ = try await driver.waitFor("the tree", script: "return document.getElementById('tree').textContent.includes('note')")

                try await driver.navigate(server.baseURL + "/.eddy/app/#/page/list/")
                _ = try await driver.waitFor("the children", script: "return document.getElementById('children').textContent.includes('one')")
                _ = try await driver.waitFor("the WebSocket", script: "return document.getElementById('via').textContent === 'ws'")
                try await expectShownWithinASecond(driver, element: "children", text: "\"two\"") {
                    _ = try await server.send(.PUT, "/page/list/two", json: #"{"text":"two"}"#)
                }
                _ = try await server.send(.DELETE, "/page/list/one")
                _ = try await driver.waitFor("a child leaving", script: "return !document.getElementById('children').textContent.includes('\"one\"')")
            }
        } catch {
            await driver.stop()
            throw error
        }
        await driver.stop()
    }

    /// The raw view shows the frames of the open resource's transport, and of a Solid channel.
    @Test func thePageShowsRawEvents() async throws {
        let driver = try await WebDriver.start()
        do {
            try await Self.withEddy(driver) { server in
                _ = try await server.send(.PUT, "/raw/note", json: #"{"n":1}"#)
                try await driver.navigate(server.baseURL + "/.eddy/app/#/raw/note")
                _ = try await driver.waitFor("the WebSocket", script: "return document.getElementById('via').textContent === 'ws'")
                try await driver.execute("document.getElementById('raw-protocol').value = 'liveresource'; document.querySelector('#raw-form button[type=submit]').click();")
                _ = try await server.send(.PUT, "/raw/note", json: #"{"n":2}"#)
                _ = try await driver.waitFor("the socket's event frame", script: #"""
                    const log = document.getElementById('raw-log').textContent;
                    return log.includes('liveresource-ws ←') && log.includes('"type":"event"') && log.includes('"n":2');
                    """#)

                try await driver.execute("""
                    document.getElementById('raw-protocol').value = 'solid-sse';
                    document.getElementById('raw-target').value = '/raw/note';
                    document.getElementById('raw-log').textContent = '';
                    document.querySelector('#raw-form button[type=submit]').click();
                    """)
                _ = try await driver.waitFor("the Solid channel", script: "return document.getElementById('raw-log').textContent.includes('(receiving)')")
                _ = try await server.send(.PUT, "/raw/note", json: #"{"n":3}"#)
                _ = try await driver.waitFor("the notification", script: #"return document.getElementById('raw-log').textContent.includes('"type":"Update"')"#)
            }
        } catch {
            await driver.stop()
            throw error
        }
        await driver.stop()
    }

    /// Edits made on the page reach the server, with the signed-in user's token.
    @Test func thePageWritesWithTheSignedInToken() async throws {
        let policy = try Tokens.writePolicy(#"{"rules":[{"path":"/","read":"anyone","write":"authenticated"}]}"#)
        defer { try? FileManager.default.removeItem(at: policy) }
        let driver = try await WebDriver.start()
        do {
            try await Self.withEddy(driver, configure: {
                $0.jwtSecret = Tokens.secret
                $0.policyFile = policy
            }) { server in
                let alice = try await Tokens.bearer("alice")
                _ = try await server.send(.PUT, "/edit/doc", headers: [alice], json: #"{"n":1}"#)
                try await driver.navigate(server.baseURL + "/.eddy/app/#/edit/doc")
                _ = try await driver.waitFor("the value", script: #"return document.getElementById('value').textContent.includes('"n": 1')"#)
                let save = #"document.getElementById('editor').value = '{"n":2}'; document.getElementById('put').click();"#
                try await driver.execute(save)
                _ = try await driver.waitFor("the refusal", script: "return document.getElementById('error').textContent.startsWith('401')")
                #expect(try await server.send(.GET, "/edit/doc").json?["n"] == .int(1))

                let token = String(alice.1.dropFirst("Bearer ".count))
                try await driver.execute(
                    "document.getElementById('token').value = arguments[0]; document.querySelector('#signin button[type=submit]').click();", [token])
                _ = try await driver.waitFor("signed in", script: "return document.getElementById('who').textContent.includes('alice')")
                try await driver.execute(save)
                _ = try await driver.waitFor("the saved value", script: #"return document.getElementById('value').textContent.includes('"n": 2')"#)
                #expect(try await server.send(.GET, "/edit/doc").json?["n"] == .int(2))
            }
        } catch {
            await driver.stop()
            throw error
        }
        await driver.stop()
    }
}
