import HTTPTypes
import Testing

@testable import EddyServer

/// `combinedValue(of:)` answers what `HTTPFields`' own subscript does, field sent once or not.
@Suite struct HTTPFieldsValueTests {
    @Test func answersAsTheSubscriptDoes() throws {
        let custom = try #require(HTTPField.Name("X-Eddy-Test"))
        let cases: [HTTPFields] = [
            [:],
            [.contentType: "application/json"],
            [.contentType: "application/json", .contentLength: "12"],
            HTTPFields([HTTPField(name: custom, value: "a"), HTTPField(name: .accept, value: "b"), HTTPField(name: custom, value: "c")]),
            HTTPFields([HTTPField(name: try #require(HTTPField.Name("x-eddy-test")), value: "lower"), HTTPField(name: custom, value: "Upper")]),
            HTTPFields([HTTPField(name: .cookie, value: "a=1"), HTTPField(name: .cookie, value: "b=2")]),
        ]
        for fields in cases {
            for name in [HTTPField.Name.contentType, .contentLength, .accept, .cookie, custom] {
                #expect(fields.combinedValue(of: name) == fields[name], "\(name) in \(fields)")
            }
        }
        #expect(cases[3].combinedValue(of: custom) == "a, c")
        #expect(cases[4].combinedValue(of: custom) == "lower, Upper")
    }

    @Test func aBodyIsAnnouncedByItsLengthOrItsTransferEncoding() {
        func request(_ fields: HTTPFields) -> HTTPRequest {
            HTTPRequest(method: .put, scheme: "http", authority: "localhost", path: "/a", headerFields: fields)
        }
        #expect(!BodyTimeoutHandler.announcesBody(request([:])))
        #expect(!BodyTimeoutHandler.announcesBody(request([.contentLength: "0"])))
        #expect(BodyTimeoutHandler.announcesBody(request([.contentLength: "3"])))
        #expect(BodyTimeoutHandler.announcesBody(request([.transferEncoding: "chunked"])))
    }
}
