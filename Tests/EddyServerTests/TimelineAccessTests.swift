import EddyCore
@testable import EddyServer
import Foundation
import Testing

/// A chunked timeline is a read surface like a listing: a child that a stricter rule below
/// the collection hides is hidden from it too — its content, its path and its removal.
@Suite struct TimelineAccessTests {
    static let policy = #"""
        {"rules":[{"path":"/public/","read":"anyone","write":"anyone"},{"path":"/public/secret","read":["alice"],"write":["alice"]},
                  {"path":"/public/gone","read":["alice"],"write":["alice"]}]}
        """#

    @Test func anonymousReadersSeeNeitherTheSecretNorItsRemoval() async throws {
        try await TestServer.with(policy: Self.policy) { server in
            let alice = try await Tokens.bearer("alice")
            #expect(try await server.send(.PUT, "/public/open", json: #"{"text":"for everyone"}"#).status == 201)
            #expect(try await server.send(.PUT, "/public/secret", headers: [alice], json: #"{"text":"only alice"}"#).status == 201)
            #expect(try await server.send(.PUT, "/public/gone", headers: [alice], json: #"{"text":"short-lived"}"#).status == 201)
            #expect(try await server.send(.DELETE, "/public/gone", headers: [alice]).status == 204)
            #expect(try await server.send(.GET, "/public/secret").status == 401)

            let anonymous = try await Self.everything(server, headers: [])
            #expect(anonymous.contains("for everyone"))
            #expect(!anonymous.contains("only alice"), "the secret's content leaked: \(anonymous)")
            #expect(!anonymous.contains("/public/secret"), "the secret's path leaked")
            #expect(!anonymous.contains("/public/gone"), "a hidden child's removal leaked")

            let owner = try await Self.everything(server, headers: [alice])
            #expect(owner.contains("for everyone") && owner.contains("only alice") && owner.contains("/public/gone"))

            let private_ = try await server.send(.GET, "/public/", headers: [alice, ("Accept", ChunkedTimeline.mediaType)])
            #expect(private_.header("Cache-Control")?.hasPrefix("private") == true)
        }
    }

    /// A chunk whose only entries are hidden is not announced by an iterator.
    @Test func iteratorsSkipChunksWithOnlyHiddenEntries() async throws {
        try await TestServer.with(policy: Self.policy) { server in
            let alice = try await Tokens.bearer("alice")
            #expect(try await server.send(.PUT, "/public/secret", headers: [alice], json: #"{"text":"only alice"}"#).status == 201)
            let document = try #require(try await server.send(.GET, "/public/", headers: [("Accept", ChunkedTimeline.mediaType)]).json)
            guard case .int(let last)? = document["lastChunk"], case .string(let iterator)? = document["descending"]?["iterator"] else {
                throw TestFailure("incomplete document \(document)")
            }
            let anonymous = try await TestHTTP.send(.GET, iterator.replacingOccurrences(of: "{chunk}", with: String(last)))
            #expect(anonymous.status == 404)
            let owner = try await TestHTTP.send(.GET, iterator.replacingOccurrences(of: "{chunk}", with: String(last)), headers: [alice])
            #expect(owner.status == 200)
        }
    }

    /// A chunk id at the edge of Int64 is refused, not multiplied into an overflow.
    @Test func extremeChunkIdsAreAnsweredNotTrapped() async throws {
        try await TestServer.with { server in
            #expect(try await server.send(.PUT, "/notes/a", json: "{}").status == 201)
            for chunk in [Int64.max, Int64.min, Int64.max / 300] {
                for query in ["iterator=asc", "iterator=desc", "body=asc"] {
                    let response = try await server.send(.GET, "/.eddy/timeline/notes/?\(query)&chunk=\(chunk)")
                    #expect(response.status == 404, "\(query) chunk \(chunk): \(response.status)")
                }
            }
        }
    }

    /// The document, then every chunk's body in both directions, as one text.
    static func everything(_ server: TestServer, headers: [(String, String)]) async throws -> String {
        let documentResponse = try await server.send(.GET, "/public/", headers: headers + [("Accept", ChunkedTimeline.mediaType)])
        let document = try #require(documentResponse.json)
        guard case .int(let first)? = document["firstChunk"], case .int(let last)? = document["lastChunk"],
            case .string(let ascending)? = document["ascending"]?["body"], case .string(let descending)? = document["descending"]?["body"]
        else { throw TestFailure("incomplete document \(documentResponse.body)") }
        var text = documentResponse.body
        for chunk in first...last {
            for template in [ascending, descending] {
                text += try await TestHTTP.send(.GET, template.replacingOccurrences(of: "{chunk}", with: String(chunk)), headers: headers).body
            }
        }
        return text
    }
}
