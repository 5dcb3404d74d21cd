import Testing

@testable import EddyServer

@Suite struct SSEFrameTests {
    @Test func eachLineOfDataIsADataField() {
        #expect(SSEFrame.make(id: "7", data: "{\"a\":1}") == "id: 7\ndata: {\"a\":1}\n\n")
        #expect(SSEFrame.make(id: nil, event: "change", data: "{\n\"a\":1\n}") == "event: change\ndata: {\ndata: \"a\":1\ndata: }\n\n")
        #expect(SSEFrame.make(id: "1", data: "") == "id: 1\ndata: \n\n")
        #expect(SSEFrame.make(id: "2", data: "a\n") == "id: 2\ndata: a\ndata: \n\n")
    }

    /// A stored body keeps the client's white space, carriage returns included.
    @Test func everyLineEndStartsADataField() {
        #expect(SSEFrame.make(id: nil, data: "{\r\n\"a\":1,\r\"b\":2\n}") == "data: {\ndata: \"a\":1,\ndata: \"b\":2\ndata: }\n\n")
        #expect(SSEFrame.make(id: nil, data: "a\r") == "data: a\ndata: \n\n")
        #expect(SSEFrame.make(id: nil, data: "\r\n\r\n") == "data: \ndata: \ndata: \n\n")
    }
}
