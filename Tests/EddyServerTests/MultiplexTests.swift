import AsyncHTTPClient
import EddyCore
import EddyTestSupport
import Foundation
import Testing

@Suite struct MultiplexTests {
    private func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
    }

    @Test func multiplexWaitAnswersOnlyTheResourcesWithData() async throws {
        try await TestServer.with { server in
            let etagA = try #require(try await server.send(.PUT, "/mx/a", json: #"{"a":1}"#).header("ETag"))
            let etagB = try #require(try await server.send(.PUT, "/mx/b", json: #"{"b":1}"#).header("ETag"))
            let changes = try #require(try await server.send(.GET, "/mx/").links["changes"])
            let multiURL = try #require(try await server.send(.GET, "/mx/a").links["multiplex-wait"])
            let collectionURI = String(changes.dropFirst(server.baseURL.count))
            let query = "?u=\(encode("/mx/a"))&inm=\(encode(etagA))&u=\(encode("/mx/b"))&inm=\(encode(etagB))&u=\(encode(collectionURI))"

            let idle = server.server.hub.subscriberCount
            async let waited = TestHTTP.send(.GET, multiURL + query, headers: [("Wait", "20")])
            // Written once the wait holds all three URIs (a subscription each), so the answer
            // comes from the write's event, not from a stale ETag seen on arrival.
            try await server.waitForSubscribers(atLeast: idle + 3)
            _ = try await server.send(.PUT, "/mx/b", json: #"{"b":2}"#)
            let response = try await waited
            #expect(response.status == 200)
            #expect(response.header("Content-Type") == "application/liveresource-multiplex")
            let entries = try #require(response.json?.objectValue)
            #expect(entries["/mx/a"] == nil)
            #expect(entries["/mx/b"]?["code"] == .int(200))
            #expect(entries["/mx/b"]?["body"] == (try JSONValue(parsing: #"{"b":2}"#)))
            guard case .string(let newTag)? = entries["/mx/b"]?["headers"]?["ETag"] else { Issue.record("no ETag"); return }
            #expect(newTag != etagB)
            // The collection's changes URI saw the same write.
            #expect(entries[collectionURI]?["body"] == (try JSONValue(parsing: #"[{"id":"b","b":2}]"#)))

            // Immediate answer without Wait; the Uri-header dialect too.
            let viaHeaders = try await TestHTTP.send(
                .GET, multiURL, headers: [("Uri", "</mx/a>"), ("If-None-Match", #""stale""#), ("Uri", "</mx/b>"), ("If-None-Match", newTag)])
            let headerEntries = try #require(viaHeaders.json?.objectValue)
            #expect(headerEntries.keys.sorted() == ["/mx/a"])
        }
    }

    @Test func multiplexWaitTimesOutEmptyAndReportsForbiddenInPlace() async throws {
        let file = try Tokens.writePolicy(#"{"rules":[{"path":"/open/","read":"anyone","write":"anyone"}]}"#)
        defer { try? FileManager.default.removeItem(at: file) }
        try await TestServer.with(configure: {
            $0.policyFile = file
            $0.jwtSecret = Tokens.secret
        }) { server in
            let etag = try #require(try await server.send(.PUT, "/open/x", json: "{}").header("ETag"))
            let started = Date()
            let quiet = try await server.send(.GET, "/.eddy/multi/?u=%2Fopen%2Fx&inm=\(encode(etag))", headers: [("Wait", "1")])
            #expect(quiet.status == 200)
            #expect(quiet.json == .object([:]))
            #expect(Date().timeIntervalSince(started) < 2)

            let mixed = try await server.send(.GET, "/.eddy/multi/?u=%2Fopen%2Fx&inm=\(encode(etag))&u=%2Fsecret", headers: [("Wait", "5")])
            let entries = try #require(mixed.json?.objectValue)
            #expect(entries["/secret"]?["code"] == .int(401))
            #expect(entries["/open/x"] == nil)
        }
    }

    @Test func multiplexStreamCarriesEveryResourceAndResumes() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/ms/a", json: #"{"a":0}"#)
            let streamURL = try #require(try await server.send(.GET, "/ms/a").links["multiplex-stream"])
            let url = streamURL + "?u=\(encode("/ms/a"))&u=\(encode("/ms/"))"
            let (first, lastID) = try await withTimeout(10) {
                var reader = try await SSEReader.open(url)
                _ = try await server.send(.PUT, "/ms/a", json: #"{"a":1}"#)
                var events: [SSEReader.Event] = []
                for _ in 0..<2 { events.append(try #require(try await reader.next())) }
                return (events.map { try? JSONValue(parsing: $0.data) }, events.last!.id!)
            }
            #expect(first.contains(try JSONValue(parsing: #"{"uri":"/ms/a","body":{"a":1}}"#)))
            #expect(first.contains(try JSONValue(parsing: #"{"uri":"/ms/","body":[{"id":"a","a":1}]}"#)))

            _ = try await server.send(.DELETE, "/ms/a")
            let resumed = try await withTimeout(10) {
                var reader = try await SSEReader.open(url, headers: [("Last-Event-ID", lastID)])
                return [try await reader.next(), try await reader.next()].compactMap { $0.flatMap { try? JSONValue(parsing: $0.data) } }
            }
            #expect(resumed.contains(try JSONValue(parsing: #"{"uri":"/ms/a","body":null}"#)))
            #expect(resumed.contains(try JSONValue(parsing: #"{"uri":"/ms/","body":[{"id":"a","deleted":true}]}"#)))
        }
    }
}
