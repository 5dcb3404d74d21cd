import AsyncHTTPClient
import EddyCore
import Foundation
import Testing

@Suite struct RESTTests {
    @Test func putCreatesThenReplacesAndGetReturnsIt() async throws {
        try await TestServer.with { server in
            let created = try await server.send(.PUT, "/a/b", json: #"{"x":1}"#)
            #expect(created.status == 201)
            #expect(created.header("Location") == server.baseURL + "/a/b")
            let etag1 = try #require(created.header("ETag"))
            #expect(etag1.hasPrefix("\"") && etag1.hasSuffix("\""))

            let replaced = try await server.send(.PUT, "/a/b", json: #"{"x":2}"#)
            #expect(replaced.status == 200)
            let etag2 = try #require(replaced.header("ETag"))
            #expect(etag2 != etag1)

            let fetched = try await server.send(.GET, "/a/b")
            #expect(fetched.status == 200)
            #expect(fetched.header("ETag") == etag2)
            #expect(fetched.header("Content-Type") == "application/json")
            #expect(fetched.json == (try JSONValue(parsing: #"{"x":2}"#)))

            let head = try await server.send(.HEAD, "/a/b")
            #expect(head.status == 200)
            #expect(head.header("ETag") == etag2)
            #expect(head.body.isEmpty)
        }
    }

    @Test func conditionalRequests() async throws {
        try await TestServer.with { server in
            let etag = try #require(try await server.send(.PUT, "/c", json: "{}").header("ETag"))
            let notModified = try await server.send(.GET, "/c", headers: [("If-None-Match", etag)])
            #expect(notModified.status == 304)
            #expect(notModified.body.isEmpty)
            #expect(try await server.send(.HEAD, "/c", headers: [("If-None-Match", etag)]).status == 304)
            #expect(try await server.send(.GET, "/c", headers: [("If-None-Match", #""other""#)]).status == 200)

            let stale = try await server.send(.PUT, "/c", headers: [("If-Match", #""stale""#)], json: #"{"a":1}"#)
            #expect(stale.status == 412)
            #expect(stale.header("Content-Type") == "application/problem+json")
            #expect(stale.header("ETag") == etag)
            #expect(try await server.send(.PATCH, "/c", headers: [("If-Match", #""stale""#)], json: "{}", contentType: "application/merge-patch+json").status == 412)
            #expect(try await server.send(.DELETE, "/c", headers: [("If-Match", #""stale""#)]).status == 412)

            let matching = try await server.send(.PUT, "/c", headers: [("If-Match", etag)], json: #"{"a":1}"#)
            #expect(matching.status == 200)

            #expect(try await server.send(.PUT, "/c", headers: [("If-None-Match", "*")], json: "{}").status == 412)
            #expect(try await server.send(.PUT, "/new", headers: [("If-None-Match", "*")], json: "{}").status == 201)
            #expect(try await server.send(.PUT, "/absent", headers: [("If-Match", "*")], json: "{}").status == 412)
            #expect(try await server.send(.PUT, "/c", headers: [("If-Match", "garbage")], json: "{}").status == 400)
        }
    }

    @Test func mergePatchUpdates() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/m", json: #"{"a":1,"b":{"c":2,"d":3}}"#)
            let patched = try await server.send(.PATCH, "/m", json: #"{"a":null,"b":{"c":9},"e":true}"#, contentType: "application/merge-patch+json")
            #expect(patched.status == 200)
            #expect(patched.json == (try JSONValue(parsing: #"{"b":{"c":9,"d":3},"e":true}"#)))
            #expect(try await server.send(.GET, "/m").json == patched.json)

            let wrongType = try await server.send(.PATCH, "/m", json: "{}", contentType: "text/plain")
            #expect(wrongType.status == 415)
            #expect(try await server.send(.PATCH, "/missing", json: "{}", contentType: "application/merge-patch+json").status == 404)
        }
    }

    @Test func deleteRemovesTheObject() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/d", json: "{}")
            let deleted = try await server.send(.DELETE, "/d")
            #expect(deleted.status == 204)
            #expect(deleted.body.isEmpty)
            let gone = try await server.send(.GET, "/d")
            #expect(gone.status == 404)
            #expect(gone.header("Content-Type") == "application/problem+json")
            #expect(try await server.send(.DELETE, "/d").status == 404)
        }
    }

    @Test func postCreatesChildrenWithSortableServerIDs() async throws {
        try await TestServer.with { server in
            var ids: [String] = []
            for index in 0..<12 {
                let created = try await server.send(.POST, "/items/", json: #"{"n":\#(index)}"#)
                #expect(created.status == 201)
                let item = try #require(created.json?.objectValue)
                guard case .string(let id) = item["id"] else { Issue.record("no id in \(created.body)"); return }
                #expect(item["n"] == .int(Int64(index)))
                #expect(created.header("Location") == server.baseURL + "/items/" + id)
                ids.append(id)
                // Something else writes between creations, so ids are not simply consecutive.
                _ = try await server.send(.PUT, "/elsewhere", json: "{}")
            }
            #expect(Set(ids).count == ids.count)
            #expect(ids == ids.sorted())

            let viaLocation = try await server.send(.GET, "/items/" + ids[3])
            #expect(viaLocation.json == (try JSONValue(parsing: #"{"n":3}"#)))

            let chosen = try await server.send(.PUT, "/items/chosen", json: #"{"n":99}"#)
            #expect(chosen.status == 201)
        }
    }

    @Test func listsCollectionsWithMaxAndOrder() async throws {
        try await TestServer.with { server in
            for name in ["zeta", "alpha", "mid"] {
                _ = try await server.send(.PUT, "/list/\(name)", json: #"{"name":"\#(name)"}"#)
            }
            _ = try await server.send(.PUT, "/list/sub/nested", json: "{}")
            let all = try await server.send(.GET, "/list/")
            #expect(all.status == 200)
            #expect(all.header("Content-Type") == "application/json")
            let items = try #require(all.json.flatMap { if case .array(let a) = $0 { a } else { nil } })
            #expect(items.map { $0["id"] } == [.string("zeta"), .string("alpha"), .string("mid")])
            #expect(items[0]["name"] == .string("zeta"))

            let newestTwo = try await server.send(.GET, "/list/?max=2&order=desc")
            #expect(newestTwo.json == (try JSONValue(parsing: #"[{"id":"mid","name":"mid"},{"id":"alpha","name":"alpha"}]"#)))
            #expect(try await server.send(.GET, "/list/?max=0").status == 400)
            #expect(try await server.send(.GET, "/list/?max=x").status == 400)
            #expect(try await server.send(.GET, "/list/?order=up").status == 400)
            #expect(try await server.send(.GET, "/nothing/").status == 404)
            #expect(try await server.send(.GET, "/list/sub/").json == (try JSONValue(parsing: #"[{"id":"nested"}]"#)))
        }
    }

    @Test func listLimitIsCapped() async throws {
        try await TestServer.with(configure: { $0.maximumListLimit = 3; $0.defaultListLimit = 2 }) { server in
            for index in 0..<5 { _ = try await server.send(.POST, "/cap/", json: #"{"i":\#(index)}"#) }
            #expect(try await count(server, "/cap/") == 2)
            #expect(try await count(server, "/cap/?max=100") == 3)
        }
    }

    private func count(_ server: TestServer, _ path: String) async throws -> Int {
        guard case .array(let items)? = try await server.send(.GET, path).json else { return -1 }
        return items.count
    }

    @Test func healthz() async throws {
        try await TestServer.with { server in
            let health = try await server.send(.GET, "/healthz")
            #expect(health.status == 200)
        }
    }
}
