import EddyCore
import Foundation
import Testing

/// The `after` extension of multiplex-ws subscriptions: resume from a position with every change
/// since, or a 404 error when the log no longer holds it.
@Suite struct MultiplexSocketResumeTests {
    @Test func aSubscriptionWithAfterReplaysTheChangesSinceThenFollows() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/resume/a", json: #"{"n":1}"#)
            let first = try await server.send(.GET, "/resume/a")
            let etag = try #require(first.header("ETag")).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            let wsURL = try #require(first.links["multiplex-ws"])
            let listing = try await server.send(.GET, "/resume/")
            let checkpoint = try #require(listing.links["changes"].flatMap { $0.split(separator: "after=").last?.split(separator: "&").first })
            for n in 2...3 { _ = try await server.send(.PUT, "/resume/a", json: #"{"n":\#(n)}"#) }
            _ = try await server.send(.PUT, "/resume/b", json: "{}")
            try await SocketScript.run(wsURL) { send, next in
                try await send(#"{"id":1,"type":"subscribe","mode":"value","uri":"/resume/a","after":"\#(etag)"}"#)
                try await send(#"{"id":2,"type":"subscribe","mode":"changes","uri":"/resume/","after":"\#(checkpoint)"}"#)
                var values: [JSONValue] = []
                var items: [JSONValue] = []
                var acks = 0
                while acks < 2 || values.count < 2 || items.count < 3 {
                    let message = try await next()
                    switch message["type"] {
                    case .string("subscribed")?: acks += 1
                    case .string("event")? where message["uri"] == .string("/resume/a"): values.append(message["body"] ?? .null)
                    case .string("event")?: if case .array(let batch)? = message["body"] { items += batch }
                    default: Issue.record("unexpected \(message.text)")
                    }
                }
                #expect(values == [.object(["n": .int(2)]), .object(["n": .int(3)])])
                #expect(items.compactMap { $0["id"] } == ["a", "a", "b"].map(JSONValue.string))
            }
        }
    }

    @Test func aPositionTheLogNoLongerHoldsIsA404Error() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/stale/a", json: "{}")
            let first = try await server.send(.GET, "/stale/a")
            let etag = try #require(first.header("ETag")).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            let wsURL = try #require(first.links["multiplex-ws"])
            for _ in 0..<3 { _ = try await server.send(.PUT, "/stale/a", json: "{}") }
            _ = try await server.server.store.applyRetention(RetentionPolicy(maximumEvents: 1), now: Int64(Date().timeIntervalSince1970 * 1000))
            try await SocketScript.run(wsURL) { send, next in
                try await send(#"{"id":1,"type":"subscribe","mode":"value","uri":"/stale/a","after":"\#(etag)"}"#)
                let answer = try await next()
                #expect(answer["type"] == .string("error"))
                #expect(answer["code"] == .int(404))
                try await send(#"{"id":2,"type":"subscribe","mode":"value","uri":"/stale/a","after":"another-log-1"}"#)
                #expect(try await next()["code"] == .int(404))
            }
        }
    }
}
