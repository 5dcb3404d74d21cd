import Foundation
import Testing

@testable import EddyServer

/// Inputs the fuzz targets (Fuzz/) found, replayed against the server. Each is also kept in
/// the target's seed corpus.
@Suite struct FuzzFindingTests {
    static let longFraction = "2026-01-02T03:04:05." + String(repeating: "9", count: 100) + "Z"

    /// ICU's date parser traps with SIGFPE on a fraction of some thirty digits: an anonymous
    /// Solid subscription with such a `startAt` ended the process.
    @Test func aDateWithALongFractionIsRefusedNotFatal() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/v", json: "{}")
            let topic = server.baseURL + "/v"
            let service = try await SolidTests.discoverService(topic, type: "EventSourceChannel2023")
            for key in ["startAt", "endAt"] {
                let body = #"{"@context":"https://www.w3.org/ns/solid/notification/v1","type":"EventSourceChannel2023","#
                    + #""topic":"\#(topic)","\#(key)":"\#(Self.longFraction)"}"#
                let response = try await TestHTTP.send(.POST, service, body: body, contentType: "application/ld+json")
                #expect(response.status == 422, "\(key): \(response.status) \(response.body)")
                #expect(response.header("Content-Type") == "application/problem+json")
            }
            #expect(try await server.send(.GET, "/v").status == 200)
        }
    }

    /// Past nine digits ICU also misreads the fraction (eleven 1s went back a second).
    @Test func dateTimesKeepToRFC3339sShape() {
        #expect(Instant.parse(Self.longFraction) == nil)
        #expect(Instant.parse("2026-01-02T03:04:05.11111111111Z") == nil)
        #expect(Instant.parse("2026-01-02T03:04:05.123456789+09:00") != nil)
        #expect(Instant.parse("2026-01-02T03:04:05Z") != nil)
    }
}
