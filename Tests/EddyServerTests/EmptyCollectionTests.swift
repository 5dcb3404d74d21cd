import EddyCore
import Foundation
import Testing

@Suite struct EmptyCollectionTests {
    /// A collection that empties keeps its changes URI, and an empty one announces where to
    /// watch from: a watcher sees the last child leave and the next arrive.
    @Test func emptyCollectionsCanBeWatched() async throws {
        try await TestServer.with { server in
            let empty = try await server.send(.GET, "/later/")
            #expect(empty.status == 404)
            let link = try #require(empty.headers["Link"].first { $0.contains("changes-wait") })
            let changes = try #require(link.firstMatch(of: /<([^>]+)>/).map { String($0.1) })
            _ = try await server.send(.PUT, "/later/a", json: #"{"v":1}"#)
            let first = try await TestHTTP.send(.GET, changes)
            #expect(first.status == 200)
            #expect(first.json == .array([.object(["id": .string("a"), "v": .int(1)])]))

            let listing = try await server.send(.GET, "/later/")
            let next = try #require(listing.headers["Link"].first { $0.contains("changes-wait") }?.firstMatch(of: /<([^>]+)>/).map { String($0.1) })
            _ = try await server.send(.DELETE, "/later/a")
            let emptied = try await TestHTTP.send(.GET, next)
            #expect(emptied.status == 200)
            #expect(emptied.json == .array([.object(["id": .string("a"), "deleted": .bool(true)])]))
        }
    }
}
