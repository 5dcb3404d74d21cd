import AsyncHTTPClient
import ConcrntCrypto
import EddyCore
import Foundation
import NIOHTTP1
import Testing

@testable import EddyServer

/// Stored JSON reads back exactly as the client wrote it, and a body naming a member twice is
/// refused (I-JSON, RFC 7493), since parsers disagree on which of the two counts.
@Suite struct ExactJSONTests {
    static let body = "{ \"b\": 1,\n  \"a\": 12345678901234567890123,\t\"c\": 1.0, \"d\": \"\\u00e9\\/\" }\n"

    @Test func aPutBodyReadsBackByteForByte() async throws {
        try await TestServer.with { server in
            let created = try await server.send(.PUT, "/exact/doc", json: Self.body)
            #expect(created.status == 201)
            #expect(created.body == Self.body)
            let fetched = try await server.send(.GET, "/exact/doc")
            #expect(Array(fetched.body.utf8) == Array(Self.body.utf8))
        }
    }

    @Test func aPostedItemReadsBackByteForByte() async throws {
        try await TestServer.with { server in
            let created = try await server.send(.POST, "/exact/", json: Self.body)
            #expect(created.status == 201)
            let location = try #require(created.header("Location"))
            let fetched = try await TestHTTP.send(.GET, location)
            #expect(Array(fetched.body.utf8) == Array(Self.body.utf8))
        }
    }

    /// Event streams carry the stored text too; SSE turns its line ends into LF, nothing else.
    @Test func aValueStreamCarriesABodyWithLineEnds() async throws {
        try await TestServer.with { server in
            let body = "{\r\n \"a\": 1.0,\r \"b\": [\n2]}"
            _ = try await server.send(.PUT, "/lines/doc", json: "{}")
            let streamURL = try #require(try await server.send(.GET, "/lines/doc").links["value-stream"])
            let event = try await withTimeout(10) {
                var reader = try await SSEReader.open(streamURL)
                _ = try await server.send(.PUT, "/lines/doc", json: body)
                return try await reader.next()
            }
            #expect(event?.data == "{\n \"a\": 1.0,\n \"b\": [\n2]}")
        }
    }

    @Test func aMemberNamedTwiceIsRefused() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/dup/doc", json: #"{"a":1}"#)
            for body in [#"{"a":1,"a":2}"#, #"{"a":1,"\u0061":2}"#, #"{"x":{"k":[],"k":null}}"#] {
                for (method, path, type) in [(HTTPMethod.PUT, "/dup/doc", "application/json"), (.POST, "/dup/", "application/json"), (.PATCH, "/dup/doc", "application/merge-patch+json")] {
                    let refused = try await server.send(method, path, json: body, contentType: type)
                    #expect(refused.status == 400, "\(method) \(body)")
                    #expect(refused.header("Content-Type") == "application/problem+json")
                    #expect(refused.json?["status"] == .int(400))
                }
            }
            #expect(try await server.send(.GET, "/dup/doc").body == #"{"a":1}"#)
            #expect(try await server.send(.GET, "/dup/").json == (try JSONValue(parsing: #"[{"id":"doc","a":1}]"#)))
        }
    }

    @Test func namesThatDifferInBytesAreTwoMembers() async throws {
        try await TestServer.with { server in
            let body = #"{"\u00e9":1,"e\u0301":2}"#
            #expect(try await server.send(.PUT, "/names/doc", json: body).status == 201)
            #expect(try await server.send(.GET, "/names/doc").body == body)
            let patched = try await server.send(.PATCH, "/names/doc", json: #"{"\u00e9":3}"#, contentType: "application/merge-patch+json")
            #expect(patched.status == 200)
            #expect(Array(patched.body.utf8) == Array("{\"\u{E9}\":3,\"e\u{301}\":2}".utf8))
        }
    }

    @Test func aMergePatchKeepsOrderAndNumberSpellings() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/p/doc", json: #"{"z": 1.0, "a": 12345678901234567890123, "m": {"y": 1e3, "b": 2}, "gone": true}"#)
            let patched = try await server.send(
                .PATCH, "/p/doc", json: #"{"m":{"b":3,"new":1.50},"gone":null,"q":true}"#, contentType: "application/merge-patch+json")
            let expected = #"{"z":1.0,"a":12345678901234567890123,"m":{"y":1e3,"b":3,"new":1.50},"q":true}"#
            #expect(patched.body == expected)
            #expect(try await server.send(.GET, "/p/doc").body == expected)
        }
    }

    @Test func aConcrntEnvelopeWithTwoDocumentsIsRefused() async throws {
        try await TestServer.with { server in
            let alice = Entity()
            let document = alice.document(key: "twice/1")
            let envelope = alice.signed(document)
            #expect(envelope.hasPrefix("{\"document\":"))
            let doubled = "{\"document\":" + JSONValue.quoted(document) + "," + envelope.dropFirst()
            let refused = try await ConcrntTests.commit(server, doubled)
            #expect(refused.status == 400, "\(refused.body)")
            #expect(refused.header("Content-Type") == "application/problem+json")
            let proofTwice = envelope.replacingOccurrences(of: "\"proof\":{", with: "\"proof\":{\"type\":\"other\",")
            #expect(try await ConcrntTests.commit(server, proofTwice).status == 400)
            #expect(try await ConcrntTests.commit(server, envelope).status == 201)
        }
    }
}
