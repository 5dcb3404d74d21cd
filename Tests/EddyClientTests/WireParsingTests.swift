@testable import EddyClient
import Testing

/// The small parsers the transports rely on: Link headers and event streams.
@Suite struct WireParsingTests {
    @Test func linkHeadersWithSeveralRelsAndLinksPerValue() {
        let relations = LinkHeader.relations([
            #"<http://h/c/?after=e-1&max=5>; rel="changes changes-wait""#,
            "<http://h/c/?after=e-2>; rel=changes, <http://h/c/?after=e-1>; rel=prev-changes",
            #"<ws://h/.eddy/ws>; rel="multiplex-ws""#,
        ])
        #expect(relations["changes"] == "http://h/c/?after=e-1&max=5")
        #expect(relations["changes-wait"] == "http://h/c/?after=e-1&max=5")
        #expect(relations["prev-changes"] == "http://h/c/?after=e-1")
        #expect(relations["multiplex-ws"] == "ws://h/.eddy/ws")
    }

    @Test func changesURLsKeepTheirQueryAndMoveTheirCheckpoint() {
        #expect(ResourceURL.checkpoint(in: "http://h/c/?max=5&after=e-1z") == "e-1z")
        #expect(ResourceURL.changesURL("http://h/c/?after=e-1&max=5", after: "e-2") == "http://h/c/?after=e-2&max=5")
        #expect(ResourceURL.path(of: "http://h:80/a%20b/c?x=1") == "/a%20b/c")
    }

    @Test func eventsSplitAcrossChunksAndLineEndings() {
        var parser = ServerSentEvents()
        #expect(parser.feed(Array(": keep-alive\n\nid: e-1\nda".utf8)).isEmpty)
        let first = parser.feed(Array("ta: {\"a\":1}\r\n\r\nevent: reset\ndata: {}\n\nid: e-2\ndata:\n\n".utf8))
        #expect(
            first == [
                .init(id: "e-1", name: nil, data: #"{"a":1}"#), .init(id: nil, name: "reset", data: "{}"), .init(id: "e-2", name: nil, data: ""),
            ])
    }
}
