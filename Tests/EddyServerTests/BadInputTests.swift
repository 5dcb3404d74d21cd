import AsyncHTTPClient
import EddyCore
import Testing

@Suite struct BadInputTests {
    /// Every refusal is RFC 9457 problem+json carrying the same status in its body.
    private func expectProblem(_ response: TestResponse, _ status: Int, _ kind: String) {
        #expect(response.status == status, "\(response.body)")
        #expect(response.header("Content-Type") == "application/problem+json")
        let problem = response.json
        #expect(problem?["status"] == .int(Int64(status)))
        #expect(problem?["type"] == .string("urn:eddy:problem:\(kind)"))
        if case .string(let detail)? = problem?["detail"] { #expect(!detail.isEmpty) } else { Issue.record("no detail") }
    }

    @Test func malformedJSONIs400() async throws {
        try await TestServer.with { server in
            expectProblem(try await server.send(.PUT, "/x", json: #"{"a":"#), 400, "malformed-json")
            expectProblem(try await server.send(.PUT, "/x", json: "[1,]"), 400, "malformed-json")
            expectProblem(try await server.send(.PUT, "/x", json: "[1]"), 400, "not-an-object")
            expectProblem(try await server.send(.POST, "/x/", json: "nope"), 400, "malformed-json")
            #expect(try await server.send(.GET, "/x").status == 404)
        }
    }

    @Test func malformedPathsAre400() async throws {
        try await TestServer.with { server in
            expectProblem(try await server.send(.PUT, "/a/.secret", json: "{}"), 400, "invalid-path")
            // Sent raw: HTTP client libraries normalise these paths before they leave.
            for target in ["/a//b", "/a/%ZZ", "/a/%2e%2e", "/a/%00"] {
                let reply = try await server.raw("PUT", target, body: "{}")
                #expect(reply.status == 400, "\(target): \(reply.head)")
                #expect(reply.head.contains("application/problem+json"))
                #expect(reply.body.contains("invalid-path"))
            }
            #expect(try await server.server.store.headSequence() == 0)
        }
    }

    @Test func unsupportedContentTypeIs415() async throws {
        try await TestServer.with { server in
            expectProblem(try await server.send(.PUT, "/x", json: "{}", contentType: "text/plain"), 415, "unsupported-media-type")
            expectProblem(try await server.send(.PUT, "/x", json: "{}", contentType: nil), 415, "unsupported-media-type")
            expectProblem(
                try await server.send(.POST, "/x/", json: "a=b", contentType: "application/x-www-form-urlencoded"), 415, "unsupported-media-type")
            #expect(try await server.send(.PUT, "/x", json: "{}", contentType: "application/json; charset=utf-8").status == 201)
            // Media types are case-insensitive and may be padded (RFC 9110, 8.3.1).
            #expect(try await server.send(.PUT, "/x", json: "{}", contentType: " Application/JSON\t;charset=utf-8").status == 200)
            expectProblem(try await server.send(.PUT, "/x", json: "{}", contentType: " ; charset=utf-8"), 415, "unsupported-media-type")
            expectProblem(try await server.send(.PUT, "/x", json: "{}", contentType: "application/jsonx"), 415, "unsupported-media-type")
        }
    }

    @Test func oversizedBodyIs413AndNothingIsWritten() async throws {
        try await TestServer.with(configure: { $0.maximumBodyBytes = 1000 }) { server in
            let big = #"{"pad":""# + String(repeating: "x", count: 2000) + #""}"#
            expectProblem(try await server.send(.PUT, "/big", json: big), 413, "body-too-large")
            #expect(try await server.send(.GET, "/big").status == 404)
            #expect(try await server.server.store.headSequence() == 0)
            #expect(try await server.send(.PUT, "/small", json: #"{"ok":true}"#).status == 201)
        }
    }

    @Test func wrongMethodIs405WithAllow() async throws {
        try await TestServer.with { server in
            let onCollection = try await server.send(.PUT, "/coll/", json: "{}")
            expectProblem(onCollection, 405, "method-not-allowed")
            #expect(onCollection.header("Allow") == "GET, HEAD, OPTIONS, POST")
            let onObject = try await server.send(.POST, "/obj", json: "{}")
            expectProblem(onObject, 405, "method-not-allowed")
            #expect(onObject.header("Allow") == "GET, HEAD, OPTIONS, PUT, PATCH, DELETE")
            expectProblem(try await server.send(.DELETE, "/coll/"), 405, "method-not-allowed")
        }
    }

    @Test func unknownResourcesAndReservedEndpointsAre404() async throws {
        try await TestServer.with { server in
            expectProblem(try await server.send(.GET, "/nope"), 404, "not-found")
            expectProblem(try await server.send(.GET, "/.eddy/unknown"), 404, "not-found")
        }
    }
}
