@testable import EddyLoadKit
import Foundation
import NIOCore
import Testing

/// The load tool's byte-level shortcuts must find exactly what the plain reading finds, however
/// the bytes are cut into reads.
@Suite struct LoadToolParsingTests {
    static let stream = """
        id: abc-1\ndata: {"n":1,"t":1764614400000001}\n\n\
        id: abc-2\ndata: {"t": 1764614400000002, "n": 2}\n\n\
        data: {"x":"t","n":3,"t":1764614400000003}\n\n\
        {"type":"event","value":{"t":1764614400000004,"n":4}}\
        {"n":5,"t":1764614400000005,"s":"\\"t\\""}
        """

    static let expected: [(UInt64, UInt64)] = (1...5).map { (1_764_614_400_000_000 + UInt64($0), UInt64($0)) }

    @Test func payloadsAreFoundWhereverTheReadsAreCut() {
        let bytes = Array(Self.stream.utf8)
        for cut in 0...bytes.count {
            var scanner = PayloadScanner()
            var found: [(UInt64, UInt64)] = []
            for part in [bytes[..<cut], bytes[cut...]] {
                scanner.scan(ByteBuffer(bytes: part)) { found.append(($0, $1)) }
            }
            #expect(found.map(\.0) == Self.expected.map(\.0), "cut at \(cut)")
            #expect(found.map(\.1) == Self.expected.map(\.1), "cut at \(cut)")
        }
    }

    @Test func aRequestTemplateFillsEveryPlaceholder() {
        let template = RequestTemplate(#"{"t":{t},"n":{n},"topic":"t{topic}","zero":{n}}"#)
        #expect(template.filled(t: 1_764_614_400_000_000, n: 0, topic: 42)
            == #"{"t":1764614400000000,"n":0,"topic":"t42","zero":0}"#)
        var buffer = ByteBuffer()
        let written = RequestTemplate("/bench/t{topic}").write(into: &buffer, t: 7, n: 8, topic: 123)
        #expect(String(buffer: buffer) == "/bench/t123")
        #expect(written == buffer.readableBytes)
        #expect(RequestTemplate("plain").filled(t: 1, n: 2, topic: 3) == "plain")
    }

    @Test func aResponseHeadKeepsTheFieldsTheToolReads() throws {
        let head = try ResponseParser.parseHead(ByteBuffer(string:
            "HTTP/1.1 304 Not Modified\r\nETag:  \"v-2\" \r\nX-Other: 1\r\nTransfer-Encoding: chunked\r\ncontent-LENGTH: 12\r\n\r\n"
        ).readableBytesView)
        #expect(head.status == 304)
        #expect(head.headers == ["etag": "\"v-2\"", "transfer-encoding": "chunked", "content-length": "12"])
        #expect(throws: ResponseParser.Failure.self) {
            try ResponseParser.parseHead(ByteBuffer(string: "HTTP/1.1 2x0 OK\r\n\r\n").readableBytesView)
        }
    }

    @Test func cpuTimeIsReadPastACommandNameWithParenthesesAndSpaces() {
        let line = "4242 (eddy (worker) 1) S 1 4242 4242 0 -1 4194560 99 0 0 0 1234 567 0 0 20 0 9 0 3250876 3133440 377\n"
        #expect(LoadRun.cpuTicks(statLine: line) == 1234 + 567)
        #expect(LoadRun.cpuTicks(statLine: "4242 (eddy) S 1 2") == nil)
        #expect(LoadRun.cpuSeconds([]) == nil)
    }

    @Test func threadNamesKeepTheirParenthesesAndLoseTheirSpaces() throws {
        let line = "4243 (NIO-ELT-0 (#1)) S 1 4242 4242 0 -1 4194560 99 0 0 0 30 12 0 0 20 0 9 0 3250876 3133440 377\n"
        let (name, ticks) = try #require(ThreadCPU.nameAndTicks(statLine: line))
        #expect(name == "NIO-ELT-0_(#1)")
        #expect(ticks == 42)
    }

    @Test func cpuOfExitedThreadsIsTheProcessTimeNoLiveThreadHolds() {
        let earlier = ThreadCPU(ticksByName: ["loop": 100, "pool": 50, "gone": 30], processTicks: 180)
        let later = ThreadCPU(ticksByName: ["loop": 160, "pool": 50], processTicks: 300)
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        let used = ThreadCPU.seconds(from: earlier, to: later)
        // The loop used 60 ticks, the pool none; of the 120 the process used, 60 went to threads
        // that are gone (the 30 "gone" had before are not counted again).
        #expect(used == ["loop": 60 / ticksPerSecond, ThreadCPU.exitedThreads: 60 / ticksPerSecond])
    }

    /// A chunked response read in two parts, cut at every byte: the same head, the same body
    /// bytes and one end, whether the parser parses a read in place or what it kept of the last.
    @Test func aChunkedResponseIsReadTheSameWhereverTheReadsAreCut() throws {
        let body = ["id: a-1\ndata: {\"t\":1,\"n\":1}\n\n", "id: a-2\ndata: {\"t\":2,\"n\":2}\n\nid: a-3\ndata: {\"t\":3,\"n\":3}\n\n"]
        var wire = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        for chunk in body { wire += String(chunk.utf8.count, radix: 16) + ";ext=1\r\n" + chunk + "\r\n" }
        wire += "0\r\n\r\n"
        let bytes = Array(wire.utf8)
        for cut in 0...bytes.count {
            var parser = ResponseParser()
            var status: Int?
            var received = ""
            var ends = 0
            for part in [bytes[..<cut], bytes[cut...]] {
                var buffer = ByteBuffer(bytes: part)
                try parser.feed(&buffer) { event in
                    switch event {
                    case .head(let head): status = head.status
                    case .body(let slice): received += String(buffer: slice)
                    case .end: ends += 1
                    case .frame: Issue.record("a frame in an HTTP response")
                    }
                }
                #expect(buffer.readableBytes == 0, "cut at \(cut)")
            }
            #expect(status == 200, "cut at \(cut)")
            #expect(received == body.joined(), "cut at \(cut)")
            #expect(ends == 1, "cut at \(cut)")
        }
        let header = try ResponseParser.chunkSize(in: ByteBuffer(string: "1F\r\n").readableBytesView)
        #expect(header?.size == 31 && header?.length == 4)
        #expect(try ResponseParser.chunkSize(in: ByteBuffer(string: "1F\r").readableBytesView) == nil)
        #expect(throws: ResponseParser.Failure.self) { try ResponseParser.chunkSize(in: ByteBuffer(string: "zz\r\n").readableBytesView) }
        #expect(throws: ResponseParser.Failure.self) { try ResponseParser.chunkSize(in: ByteBuffer(string: "10\n").readableBytesView) }
    }
}
