import AsyncHTTPClient
import Foundation
import NIOHTTP1
import Testing

/// `If-Match` compares entity tags strongly (RFC 9110 §13.1.1): a weak tag never matches.
@Suite struct StrongIfMatchTests {
    @Test func aWeakTagInIfMatchFailsThePrecondition() async throws {
        try await TestServer.with { server in
            let created = try await server.send(.PUT, "/doc", json: #"{"v":1}"#)
            let etag = try #require(created.header("ETag"))
            for method in [.PUT, .PATCH] as [HTTPMethod] {
                let weak = try await server.send(
                    method, "/doc", headers: [("If-Match", "W/" + etag)], json: #"{"v":2}"#,
                    contentType: method == .PUT ? "application/json" : "application/merge-patch+json")
                #expect(weak.status == 412, "\(method): \(weak.body)")
            }
            #expect(try await server.send(.DELETE, "/doc", headers: [("If-Match", "W/" + etag)]).status == 412)
            #expect(try await server.send(.DELETE, "/doc", headers: [("If-Match", "W/" + etag + ", " + etag)]).status == 204)
            // If-None-Match keeps comparing weakly.
            let recreated = try await server.send(.PUT, "/doc", json: #"{"v":3}"#)
            let current = try #require(recreated.header("ETag"))
            #expect(try await server.send(.PUT, "/doc", headers: [("If-None-Match", "W/" + current)], json: "{}").status == 412)
        }
    }
}
