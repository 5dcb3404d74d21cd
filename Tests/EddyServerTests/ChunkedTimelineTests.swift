import AsyncHTTPClient
import ConcrntCrypto
import EddyCore
import Foundation
import Testing

@testable import EddyServer

@Suite struct ChunkedTimelineTests {
    @Test func chunkIDsAtTheEdges() {
        // The field notes' erratum: 2025-11-23T12:34:56Z is unix 1763901296, chunk 5879670 at 300.
        let date = Instant.parse("2025-11-23T12:34:56Z")!
        #expect(Int64(date.timeIntervalSince1970) == 1_763_901_296)
        #expect(ChunkedTimeline.chunk(ofMilliseconds: 1_763_901_296_000, size: 300) == 5_879_670)
        #expect(ChunkedTimeline.chunk(ofMilliseconds: 1_763_901_000_000, size: 300) == 5_879_670)  // first second of the chunk
        #expect(ChunkedTimeline.chunk(ofMilliseconds: 1_763_900_999_999, size: 300) == 5_879_669)  // last millisecond before it
        #expect(ChunkedTimeline.chunk(ofMilliseconds: 1_763_901_299_999, size: 300) == 5_879_670)
        #expect(ChunkedTimeline.chunk(ofMilliseconds: 1_763_901_300_000, size: 300) == 5_879_671)
        #expect(ChunkedTimeline.chunk(ofMilliseconds: 0, size: 600) == 0)
        #expect(ChunkedTimeline.chunk(ofMilliseconds: -1, size: 600) == -1)
    }

    @Test func walkingAThousandEntriesGetsEachExactlyOnceBothWays() async throws {
        try await TestServer.with(configure: { $0.concrntMaximumSkewSeconds = 30 * 86_400 }) { server in
            let alice = Entity()
            let timeline = "cc://\(alice.ccid)/feed"
            #expect(try await ConcrntTests.commit(server, alice.signed(alice.document(key: "feed", value: "{}"))).status == 201)
            let start = Date().addingTimeInterval(-3 * 86_400)
            var expected: [String] = []
            for index in 0..<1000 {
                // Spread over about 40 hours: many chunks, several entries in some, gaps between others.
                let createdAt = start.addingTimeInterval(Double(index * index % 997) * 150 + Double(index))
                let envelope = alice.signed(alice.document(key: "p/\(index)", memberOf: [timeline], createdAt: createdAt))
                let status = try await ConcrntTests.commit(server, envelope).status
                guard status == 201 else { throw TestFailure("commit \(index) answered \(status)") }
                expected.append("cc://\(alice.ccid)/p/\(index)")
            }
            let collection = "/cc/\(alice.ccid)/feed/"
            let head = try await server.send(.HEAD, collection)
            let documentURL = try #require(head.links["chunked-timeline"])
            let negotiated = try await server.send(.GET, collection, headers: [("Accept", ChunkedTimeline.mediaType)])
            #expect(negotiated.header("Content-Type") == ChunkedTimeline.mediaType)
            let document = try #require(try await TestHTTP.send(.GET, documentURL).json)
            // The last chunk is the current one, which may move on between the two requests.
            func withoutLastChunk(_ value: JSONValue?) -> JSONValue? {
                guard case .object(var members)? = value else { return value }
                members["lastChunk"] = nil
                return .object(members)
            }
            #expect(withoutLastChunk(negotiated.json) == withoutLastChunk(document))
            #expect(document["chunkSize"] == .int(300))
            guard case .int(let first)? = document["firstChunk"], case .int(let last)? = document["lastChunk"],
                case .string(let descIterator)? = document["descending"]?["iterator"], case .string(let descBody)? = document["descending"]?["body"],
                case .string(let ascIterator)? = document["ascending"]?["iterator"], case .string(let ascBody)? = document["ascending"]?["body"]
            else { throw TestFailure("incomplete timeline document: \(document)") }

            func get(_ template: String, _ chunk: Int64) async throws -> TestResponse {
                try await TestHTTP.send(.GET, template.replacingOccurrences(of: "{chunk}", with: String(chunk)))
            }
            // Newest first: from lastChunk back to firstChunk.
            var descending: [String] = []
            var cursor = last
            var bodies = 0
            while cursor >= first {
                let iterator = try await get(descIterator, cursor)
                if iterator.status == 404 { break }
                let found = try #require(Int64(iterator.body))
                #expect(found <= cursor)
                let body = try await get(descBody, found)
                guard case .array(let entries)? = body.json else { throw TestFailure("body \(found): \(body.body)") }
                #expect(!entries.isEmpty)
                let stamps = entries.compactMap { entry -> Date? in if case .string(let text)? = entry["timestamp"] { Instant.parse(text) } else { nil } }
                #expect(stamps == stamps.sorted(by: >))
                descending += entries.compactMap { if case .string(let href)? = $0["href"] { href } else { nil } }
                bodies += 1
                cursor = found - 1
            }
            #expect(bodies > 50)
            #expect(descending.count == 1000)
            #expect(Set(descending) == Set(expected))

            // Oldest first.
            var ascending: [String] = []
            cursor = first
            while cursor <= last {
                let iterator = try await get(ascIterator, cursor)
                if iterator.status == 404 { break }
                let found = try #require(Int64(iterator.body))
                #expect(found >= cursor)
                guard case .array(let entries)? = try await get(ascBody, found).json else { throw TestFailure("no body") }
                ascending += entries.compactMap { if case .string(let href)? = $0["href"] { href } else { nil } }
                cursor = found + 1
            }
            #expect(ascending == descending.reversed())

            // Out of range, empty chunks, caching.
            #expect(try await get(descBody, last + 10).status == 404)
            #expect(try await get(descIterator, first - 1).status == 404)
            // `last` was the current chunk when the document was read; a chunk boundary (every
            // five minutes) may have passed during the walk, and then it is a past one.
            func currentChunk() -> Int64 { ChunkedTimeline.chunk(ofMilliseconds: Int64(Date().timeIntervalSince1970 * 1000), size: 300) }
            let chunkBefore = currentChunk()
            let emptyBody = try await get(ascBody, last)
            let chunkAfter = currentChunk()
            #expect(emptyBody.status == 200)
            let oldChunk = try await get(ascBody, first)
            #expect(oldChunk.header("Cache-Control") == "public, max-age=86400")
            if chunkBefore == chunkAfter {
                #expect(emptyBody.header("Cache-Control") == (last == chunkBefore ? "public, max-age=5" : "public, max-age=86400"))
            }
            let etag = try #require(oldChunk.header("ETag"))
            let revalidated = try await TestHTTP.send(
                .GET, ascBody.replacingOccurrences(of: "{chunk}", with: String(first)), headers: [("If-None-Match", etag)])
            #expect(revalidated.status == 304)
        }
    }

    @Test func ordinaryCollectionsHaveTimelinesAndDeletionsAreListed() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/plain/a", json: #"{"a":1}"#)
            _ = try await server.send(.PUT, "/plain/b", json: #"{"b":1}"#)
            _ = try await server.send(.DELETE, "/plain/a")
            let document = try #require(try await server.send(.GET, "/plain/", headers: [("Accept", ChunkedTimeline.mediaType)]).json)
            #expect(document["metadata"]?["removed"] == .array([.string(server.baseURL + "/plain/a")]))
            guard case .string(let body)? = document["descending"]?["body"], case .int(let last)? = document["lastChunk"] else {
                throw TestFailure("no templates")
            }
            let entries = try await TestHTTP.send(.GET, body.replacingOccurrences(of: "{chunk}", with: String(last))).json
            #expect(entries == (try JSONValue(parsing: #"[{"timestamp":"\#(try #require(entriesTimestamp(entries)))","href":"\#(server.baseURL)/plain/b","content":{"id":"b","b":1}}]"#)))
        }
    }

    private func entriesTimestamp(_ entries: JSONValue?) -> String? {
        if case .array(let items)? = entries, case .string(let stamp)? = items.first?["timestamp"] { return stamp }
        return nil
    }
}
