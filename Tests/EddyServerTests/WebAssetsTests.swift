import EddyCore
import Foundation
import Testing

@Suite struct WebAssetsTests {
    @Test func theClientAndThePageAreServedWithValidators() async throws {
        try await TestServer.with { server in
            let client = try await server.send(.GET, "/.eddy/client.js")
            #expect(client.status == 200)
            #expect(client.header("Content-Type") == "text/javascript; charset=utf-8")
            #expect(client.header("Cache-Control") == "no-cache")
            #expect(client.body.contains("export class LiveResource"))
            let etag = try #require(client.header("ETag"))
            let again = try await server.send(.GET, "/.eddy/client.js", headers: [("If-None-Match", etag)])
            #expect(again.status == 304)
            #expect(again.body.isEmpty)
            let head = try await server.send(.HEAD, "/.eddy/client.js")
            #expect(head.status == 200 && head.body.isEmpty && head.header("ETag") == etag)

            let page = try await server.send(.GET, "/.eddy/app/")
            #expect(page.status == 200)
            #expect(page.header("Content-Type") == "text/html; charset=utf-8")
            #expect(page.body.contains("app.js"))
            #expect(try await server.send(.GET, "/.eddy/app/app.js").header("Content-Type") == "text/javascript; charset=utf-8")
            #expect(try await server.send(.GET, "/.eddy/app/app.css").header("Content-Type") == "text/css; charset=utf-8")
            // Redirected (the client follows it) to the page.
            let bare = try await server.send(.GET, "/.eddy/app")
            #expect(bare.status == 200 && bare.body == page.body)

            #expect(try await server.send(.GET, "/.eddy/app/missing.js").status == 404)
            #expect(try await server.send(.GET, "/.eddy/app/../client.js").status != 200)
            #expect(try await server.send(.POST, "/.eddy/client.js", json: "{}").status == 405)
        }
    }

    /// Code is public even where data is not, and even for a caller whose token went stale:
    /// the page must load to let them sign in again.
    @Test func assetsNeedNoCredentials() async throws {
        try await AccessTests.withGuardedServer { server in
            #expect(try await server.send(.GET, "/team/plan").status == 401)
            #expect(try await server.send(.GET, "/.eddy/client.js").status == 200)
            let expired = try await Tokens.expired("alice")
            #expect(try await server.send(.GET, "/.eddy/app/", headers: [expired]).status == 200)
        }
    }

    /// A page on another origin imports the module and reads the headers the client needs.
    @Test func crossOriginCallersMayReadWhatTheClientNeeds() async throws {
        try await TestServer.with(configure: { $0.corsOrigins = ["http://page.example"] }) { server in
            let origin = ("Origin", "http://page.example")
            let module = try await server.send(.GET, "/.eddy/client.js", headers: [origin])
            #expect(module.header("Access-Control-Allow-Origin") == "http://page.example")
            _ = try await server.send(.PUT, "/cors/a", json: "{}")
            let exposed = try #require(try await server.send(.GET, "/cors/a", headers: [origin]).header("Access-Control-Expose-Headers"))
            for name in ["ETag", "Link", "Location"] { #expect(exposed.contains(name)) }
            let preflight = try await server.send(
                .OPTIONS, "/.eddy/multi/",
                headers: [origin, ("Access-Control-Request-Method", "GET"), ("Access-Control-Request-Headers", "wait, last-event-id, authorization")])
            let allowed = try #require(preflight.header("Access-Control-Allow-Headers")).lowercased()
            for name in ["wait", "last-event-id", "authorization", "if-none-match"] { #expect(allowed.contains(name)) }
        }
    }
}
