import EddyClient
import EddyCore
import Testing

/// Each transport against a real server: an object's values and a collection's child events.
@Suite(.serialized) struct LiveEventsTests {
    static func follow(_ url: String, _ transport: LiveTransport?) -> EventCollector {
        EventCollector(LiveResource(url, options: .init(transport: transport, waitSeconds: 10, maximumRetryDelay: .milliseconds(500))))
    }

    @Test(arguments: LiveTransport.allCases)
    func objectValuesAndRemoval(transport: LiveTransport) async throws {
        try await TestServer.with { server in
            try await server.send(.PUT, "/objects/first", json: #"{"n":0}"#)
            let watch = Self.follow(server.baseURL + "/objects/first", transport)
            defer { watch.stop() }
            _ = try await watch.waitFor(1)
            // One write per awaited event: long-polling reports values, so writes must not overlap.
            try await server.send(.PUT, "/objects/first", json: #"{"n":1}"#)
            _ = try await watch.waitFor(2)
            try await server.send(.DELETE, "/objects/first")
            _ = try await watch.waitFor(3)
            try await server.send(.PUT, "/objects/first", json: #"{"n":2}"#)
            let events = try await watch.waitFor(4)
            #expect(events.map(\.kind) == [.value(try json(#"{"n":0}"#)), .value(try json(#"{"n":1}"#)), .removed, .value(try json(#"{"n":2}"#))])
            // Long-polling learns of a deletion without its position; every other event has one.
            let positions = events.compactMap { $0.position.flatMap { Checkpoint(token: $0) }?.sequence }
            #expect(positions == positions.sorted() && positions.count >= 3)
        }
    }

    @Test(arguments: LiveTransport.allCases)
    func collectionChildEvents(transport: LiveTransport) async throws {
        try await TestServer.with { server in
            try await server.send(.PUT, "/list/a", json: #"{"v":1}"#)
            let watch = Self.follow(server.baseURL + "/list/", transport)
            defer { watch.stop() }
            _ = try await watch.waitFor(1)
            try await server.send(.PUT, "/list/b", json: #"{"v":1}"#)
            _ = try await watch.waitFor(2)
            try await server.send(.PUT, "/list/a", json: #"{"v":2}"#)
            _ = try await watch.waitFor(3)
            try await server.send(.DELETE, "/list/b")
            let events = try await watch.waitFor(4)
            #expect(
                events.map(\.kind) == [
                    .value(try json(#"[{"id":"a","v":1}]"#)), .childAdded(try json(#"{"id":"b","v":1}"#)),
                    .childChanged(try json(#"{"id":"a","v":2}"#)), .childRemoved("b"),
                ])
        }
    }

    @Test func withoutAForcedTransportTheBestOfferedOneFollows() async throws {
        try await TestServer.with { server in
            try await server.send(.PUT, "/auto/a", json: "{}")
            let watch = Self.follow(server.baseURL + "/auto/", nil)
            defer { watch.stop() }
            _ = try await watch.waitFor(1)
            try await server.send(.PUT, "/auto/b", json: "{}")
            let events = try await watch.waitFor(2)
            #expect(events.last?.kind == .childAdded(try json(#"{"id":"b"}"#)))
        }
    }

    @Test func aTransportThatRefusesHandsOverToTheNextOne() async throws {
        // A socket that may hold no subscription refuses every one (429): SSE must take over.
        try await TestServer.with(configure: { $0.maximumSubscriptionsPerConnection = 0 }) { server in
            try await server.send(.PUT, "/fallback/a", json: "{}")
            let watch = Self.follow(server.baseURL + "/fallback/", nil)
            defer { watch.stop() }
            _ = try await watch.waitFor(1)
            try await server.send(.PUT, "/fallback/b", json: "{}")
            let events = try await watch.waitFor(2)
            #expect(events.map(\.kind) == [.value(try json(#"[{"id":"a"}]"#)), .childAdded(try json(#"{"id":"b"}"#))])
        }
    }

    @Test func aResourceThatDoesNotExistEndsTheEventsWithItsStatus() async throws {
        try await TestServer.with { server in
            var iterator = LiveResource(server.baseURL + "/missing").makeAsyncIterator()
            do {
                _ = try await iterator.next()
                Issue.record("a missing resource produced an event")
            } catch let LiveResourceError.status(code, _) {
                #expect(code == 404)
            }
        }
    }
}
