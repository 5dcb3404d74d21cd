import AsyncHTTPClient
import EddyCore
import EddyTestSupport
import Foundation
import Testing

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

@Suite struct LiveResourceTests {
    @Test func objectsAndCollectionsAdvertiseEveryMechanism() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/docs/a", json: #"{"a":1}"#)
            let object = try await server.send(.GET, "/docs/a")
            let objectLinks = object.links
            for rel in ["value-wait", "value-stream", "value-callback", "multiplex-wait", "multiplex-stream", "multiplex-ws"] {
                #expect(objectLinks[rel] != nil, "object lacks \(rel)")
            }
            #expect(objectLinks["value-wait"] == server.baseURL + "/docs/a")
            #expect(objectLinks["multiplex-ws"]?.hasPrefix("ws://") == true)
            #expect(try await server.send(.HEAD, "/docs/a").links == objectLinks)

            let collection = try await server.send(.HEAD, "/docs/")
            let collectionLinks = collection.links
            for rel in ["changes", "changes-wait", "changes-stream", "changes-callback", "multiplex-wait", "multiplex-stream", "multiplex-ws"] {
                #expect(collectionLinks[rel] != nil, "collection lacks \(rel)")
            }
            #expect(collectionLinks["changes"]?.contains("?after=") == true)
            #expect(collectionLinks["changes"] == collectionLinks["changes-wait"])
        }
    }

    @Test func valueWaitReturnsTheNewValueWhenAnotherConnectionWrites() async throws {
        try await TestServer.with { server in
            let etag = try #require(try await server.send(.PUT, "/w", json: #"{"v":1}"#).header("ETag"))
            let waitURL = try #require(try await server.send(.GET, "/w").links["value-wait"])
            let idle = server.server.hub.subscriberCount
            async let waited = TestHTTP.send(.GET, waitURL, headers: [("If-None-Match", etag), ("Wait", "20")])
            // Written once the wait is held, so it is this write that ends it.
            try await server.waitForSubscribers(atLeast: idle + 1)
            let written = try await server.send(.PUT, "/w", json: #"{"v":2}"#)
            let response = try await waited
            #expect(response.status == 200)
            #expect(response.body == #"{"v":2}"#)
            #expect(response.header("ETag") == written.header("ETag"))
            #expect(response.links["value-wait"] == waitURL)
        }
    }

    @Test func valueWaitAnswersAtOnceForAStaleETagAndAccepts304AndPrefer() async throws {
        try await TestServer.with { server in
            let old = try #require(try await server.send(.PUT, "/s", json: #"{"v":1}"#).header("ETag"))
            let current = try #require(try await server.send(.PUT, "/s", json: #"{"v":2}"#).header("ETag"))
            let started = Date()
            let stale = try await server.send(.GET, "/s", headers: [("If-None-Match", old), ("Wait", "30")])
            #expect(stale.status == 200)
            #expect(stale.body == #"{"v":2}"#)
            #expect(Date().timeIntervalSince(started) < 2)

            let timedStart = Date()
            let timedOut = try await server.send(.GET, "/s", headers: [("If-None-Match", current), ("Prefer", "wait=1")])
            let elapsed = Date().timeIntervalSince(timedStart)
            #expect(timedOut.status == 304)
            #expect(timedOut.body.isEmpty)
            #expect(timedOut.header("ETag") == current)
            #expect(elapsed >= 0.9 && elapsed < 2.0)

            #expect(try await server.send(.GET, "/s", headers: [("If-None-Match", current), ("Wait", "soon")]).status == 400)
            #expect(try await server.send(.GET, "/s", headers: [("If-None-Match", current), ("Wait", "-1")]).status == 400)
        }
    }

    @Test func valueWaitIsCappedAndDeletionAnswers404() async throws {
        try await TestServer.with(configure: { $0.maximumWaitSeconds = 1 }) { server in
            let etag = try #require(try await server.send(.PUT, "/cap", json: "{}").header("ETag"))
            let started = Date()
            #expect(try await server.send(.GET, "/cap", headers: [("If-None-Match", etag), ("Wait", "600")]).status == 304)
            #expect(Date().timeIntervalSince(started) < 2)
        }
        try await TestServer.with { server in
            let etag = try #require(try await server.send(.PUT, "/gone", json: "{}").header("ETag"))
            let idle = server.server.hub.subscriberCount
            async let waited = server.send(.GET, "/gone", headers: [("If-None-Match", etag), ("Wait", "20")])
            try await server.waitForSubscribers(atLeast: idle + 1)
            _ = try await server.send(.DELETE, "/gone")
            #expect(try await waited.status == 404)
        }
    }

    /// The hub may fan a write out after its writer has been answered, so a waiter can get the
    /// event of a write it has already read. That event is replayed here; it must not end a wait.
    @Test func anEventOfAWriteAlreadyReadDoesNotEndAWait() async throws {
        try await TestServer.with { server in
            let etag = try #require(try await server.send(.PUT, "/late/a", json: #"{"a":1}"#).header("ETag"))
            let stored = try #require(try await server.server.store.resource(at: ResourcePath(parsing: "/late/a")))
            let seen = ChangeEvent(
                sequence: stored.version, path: stored.path, kind: .created, etag: stored.etag, timestamp: stored.updatedAt, value: stored.value)
            let changesWait = try #require(try await server.send(.GET, "/late/").links["changes-wait"])
            let multiplexWait = try #require(try await server.send(.GET, "/late/a").links["multiplex-wait"])
            let encodedETag = etag.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? etag

            let idle = server.server.hub.subscriberCount
            let started = Date()
            async let value = server.send(.GET, "/late/a", headers: [("If-None-Match", etag), ("Wait", "2")])
            async let changes = TestHTTP.send(.GET, changesWait, headers: [("Wait", "2")])
            async let multiplexed = TestHTTP.send(.GET, multiplexWait + "?u=%2Flate%2Fa&inm=\(encodedETag)", headers: [("Wait", "2")])
            // The replayed event goes out once all three waits (one source each) are held.
            try await server.waitForSubscribers(atLeast: idle + 3)
            server.server.hub.publish([seen])

            let (valueAnswer, changesAnswer, multiplexedAnswer) = try await (value, changes, multiplexed)
            #expect(Date().timeIntervalSince(started) >= 1.9)
            #expect(valueAnswer.status == 304)
            #expect(valueAnswer.header("ETag") == etag)
            #expect(changesAnswer.status == 200)
            #expect(changesAnswer.json == .array([]))
            #expect(multiplexedAnswer.json == .object([:]))
        }
    }

    @Test func thousandWaitersAllGetTheNewValue() async throws {
        try await TestServer.with(configure: { $0.maximumConnectionsPerAddress = 5000 }) { server in
            let etag = try #require(try await server.send(.PUT, "/crowd", json: #"{"n":0}"#).header("ETag"))
            let waiters = 1000
            // A client of its own: the shared one holds only a few connections per host.
            var configuration = HTTPClient.Configuration()
            configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: waiters)
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            let outcome = await Result(catching: {
                try await withTimeout(60) {
                    try await withThrowingTaskGroup(of: (Int, String).self) { group in
                        for _ in 0..<waiters {
                            group.addTask {
                                var request = HTTPClientRequest(url: server.baseURL + "/crowd")
                                request.headers.add(name: "If-None-Match", value: etag)
                                request.headers.add(name: "Wait", value: "30")
                                let response = try await client.execute(request, timeout: .seconds(40))
                                let body = try await response.body.collect(upTo: 1 << 16)
                                return (Int(response.status.code), String(buffer: body))
                            }
                        }
                        // Write once every waiter is held by the server.
                        try await server.waitForSubscribers(atLeast: waiters, seconds: 50)
                        _ = try await server.send(.PUT, "/crowd", json: #"{"n":1}"#)
                        return try await group.reduce(into: []) { $0.append($1) }
                    }
                }
            })
            try await client.shutdown()
            let results = try outcome.get()
            #expect(results.count == waiters)
            #expect(results.allSatisfy { $0.0 == 200 && $0.1 == #"{"n":1}"# })
        }
    }

    @Test func changesFeedReturnsModifiedChildrenAndNextCheckpoint() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/feed/keep", json: #"{"k":1}"#)
            _ = try await server.send(.PUT, "/feed/drop", json: #"{"d":1}"#)
            let listing = try await server.send(.GET, "/feed/")
            let changesURL = try #require(listing.links["changes"])
            let empty = try await TestHTTP.send(.GET, changesURL)
            #expect(empty.status == 200)
            #expect(empty.body == "[]")

            _ = try await server.send(.PUT, "/feed/keep", json: #"{"k":2}"#)
            _ = try await server.send(.DELETE, "/feed/drop")
            _ = try await server.send(.PUT, "/feed/new", json: #"{"n":1}"#)
            _ = try await server.send(.PUT, "/feed/new", json: #"{"n":2}"#)
            _ = try await server.send(.PUT, "/elsewhere/x", json: "{}")
            let changed = try await TestHTTP.send(.GET, changesURL)
            #expect(changed.json == (try JSONValue(parsing: #"[{"id":"keep","k":2},{"id":"drop","deleted":true},{"id":"new","n":2}]"#)))
            let next = try #require(changed.links["changes"])
            #expect(next != changesURL)
            #expect(try await TestHTTP.send(.GET, next).body == "[]")
        }
    }

    @Test func changesWaitLongPollsAndTimesOutWithAnEmptyList() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/lp/a", json: "{}")
            let waitURL = try #require(try await server.send(.GET, "/lp/").links["changes-wait"])
            let idle = server.server.hub.subscriberCount
            async let waited = TestHTTP.send(.GET, waitURL, headers: [("Wait", "20")])
            try await server.waitForSubscribers(atLeast: idle + 1)
            _ = try await server.send(.POST, "/lp/", json: #"{"p":1}"#)
            let response = try await waited
            guard case .array(let items)? = response.json else { Issue.record("not an array: \(response.body)"); return }
            #expect(items.count == 1)
            #expect(items.first?["p"] == .int(1))

            let next = try #require(response.links["changes-wait"])
            let started = Date()
            let timedOut = try await TestHTTP.send(.GET, next, headers: [("Wait", "1")])
            #expect(timedOut.status == 200)
            #expect(timedOut.body == "[]")
            #expect(Date().timeIntervalSince(started) < 2)
        }
    }

    @Test func staleCheckpointsAnswer404() async throws {
        try await TestServer.with { server in
            for index in 0..<5 { _ = try await server.send(.PUT, "/old/\(index)", json: "{}") }
            let epoch = server.server.store.epoch
            _ = try await server.server.store.applyRetention(.init(maximumEvents: 2, maximumAgeSeconds: 3600), now: 0)
            let tooOld = Checkpoint(epoch: epoch, sequence: 1).token
            #expect(try await server.send(.GET, "/old/?after=\(tooOld)").status == 404)
            #expect(try await server.send(.GET, "/old/?after=zzz-1").status == 404)
            #expect(try await server.send(.GET, "/old/?after=garbage").status == 404)
        }
    }

    @Test func valueStreamDeliversValuesAndEmptyDataOnDelete() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/vs", json: #"{"v":0}"#)
            let streamURL = try #require(try await server.send(.GET, "/vs").links["value-stream"])
            let events = try await withTimeout(10) {
                var reader = try await SSEReader.open(streamURL)
                #expect(reader.response.headers.first(name: "Content-Type") == "text/event-stream")
                _ = try await server.send(.PUT, "/vs", json: #"{"v":1}"#)
                _ = try await server.send(.DELETE, "/vs")
                return [try await reader.next(), try await reader.next()]
            }
            #expect(events[0]?.data == #"{"v":1}"#)
            #expect(events[1]?.data == "")
            #expect(events[0]?.id != nil && events[0]?.id != events[1]?.id)
        }
    }

    @Test func sseResumeDeliversExactlyTheMissedEvents() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/res/a", json: #"{"n":0}"#)
            let streamURL = try #require(try await server.send(.GET, "/res/").links["changes-stream"])
            let lastID = try await withTimeout(10) {
                var reader = try await SSEReader.open(streamURL)
                _ = try await server.send(.PUT, "/res/a", json: #"{"n":1}"#)
                return try #require(try await reader.next()?.id)
            }
            // Disconnected: three writes happen while nobody listens.
            for index in 2...4 { _ = try await server.send(.PUT, "/res/a", json: #"{"n":\#(index)}"#) }
            let resumed = try await withTimeout(10) {
                var reader = try await SSEReader.open(streamURL, headers: [("Last-Event-ID", lastID)])
                var bodies: [String] = []
                for _ in 0..<3 { bodies.append(try #require(try await reader.next()).data) }
                _ = try await server.send(.PUT, "/res/a", json: #"{"n":5}"#)
                bodies.append(try #require(try await reader.next()).data)
                return bodies
            }
            #expect(resumed == [#"[{"id":"a","n":2}]"#, #"[{"id":"a","n":3}]"#, #"[{"id":"a","n":4}]"#, #"[{"id":"a","n":5}]"#])

            let reset = try await withTimeout(10) {
                var reader = try await SSEReader.open(streamURL, headers: [("Last-Event-ID", "otherlog-5")])
                return try await reader.next()
            }
            #expect(reset?.event == "reset")
        }
    }

    @Test func corsLetsOtherOriginsUseEverything() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/cors", json: "{}")
            let preflight = try await server.send(
                .OPTIONS, "/cors", headers: [("Origin", "http://page.example"), ("Access-Control-Request-Method", "GET"),
                                             ("Access-Control-Request-Headers", "if-none-match, wait")])
            #expect(preflight.status == 204)
            let allowed = preflight.header("Access-Control-Allow-Headers")?.lowercased() ?? ""
            for header in ["if-none-match", "wait", "prefer", "uri", "last-event-id", "content-type", "authorization"] {
                #expect(allowed.contains(header), "preflight does not allow \(header)")
            }
            let get = try await server.send(.GET, "/cors", headers: [("Origin", "http://page.example")])
            #expect(get.header("Access-Control-Allow-Origin") == "*")
            let exposed = get.header("Access-Control-Expose-Headers") ?? ""
            for header in ["ETag", "Link", "Location"] { #expect(exposed.contains(header)) }
        }
    }
}

@Suite struct KeepAliveTests {
    @Test func idleStreamsGetCommentKeepAlives() async throws {
        try await TestServer.with(configure: { $0.keepAliveSeconds = 0.2 }) { server in
            _ = try await server.send(.PUT, "/quiet", json: "{}")
            let text = try await withTimeout(10) {
                let response = try await HTTPClient.shared.execute(
                    HTTPClientRequest(url: server.baseURL + "/.eddy/value-stream/quiet"), timeout: .seconds(10))
                var collected = ""
                for try await chunk in response.body {
                    collected += String(buffer: chunk)
                    if collected.components(separatedBy: ": keep-alive\n\n").count > 2 { break }
                }
                return collected
            }
            #expect(text.components(separatedBy: ": keep-alive\n\n").count > 2)
        }
    }
}
