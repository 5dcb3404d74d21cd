import Foundation
import NIOCore

/// A minimal incremental HTTP/1.1 response and WebSocket frame reader. Subscribers need only the
/// status, a few headers and the de-framed payload bytes; a full client stack per connection would
/// cost more memory and CPU than the server under test, and would then be what we measure.
struct ResponseParser {
    struct Head {
        var status: Int
        /// Lower-cased names.
        var headers: [String: String]
    }

    enum Event {
        case head(Head)
        case body(ByteBuffer)
        /// The end of one response body (content-length or chunked); the connection stays open.
        case end
        case frame(opcode: UInt8, payload: ByteBuffer)
    }

    enum Failure: Error {
        case malformed(String)
    }

    private enum Mode {
        case head
        case chunkSize
        case chunkData(Int)
        case chunkDataEnd
        case trailer
        case fixed(Int)
        case untilClose
        case webSocket
    }

    private var mode = Mode.head
    private var pending = ByteBuffer()

    /// Shared by every parser with nothing pending, so an emptied parser holds no storage.
    private static let empty = ByteBuffer()

    mutating func feed(_ incoming: inout ByteBuffer, _ sink: (Event) -> Void) throws {
        if pending.readableBytes == 0 {
            // Most reads start where a frame or chunk starts: parse the read's own buffer
            // rather than copy it, which at millions of deliveries a second showed in profiles.
            pending = incoming
            incoming.moveReaderIndex(to: incoming.writerIndex)
        } else {
            pending.writeBuffer(&incoming)
        }
        defer {
            if pending.readableBytes == 0 {
                pending = Self.empty
            } else if pending.readerIndex > 4096 {
                pending.discardReadBytes()
            }
        }
        loop: while true {
            switch mode {
            case .head:
                guard let end = Self.find([13, 10, 13, 10], in: pending) else { break loop }
                let head = try Self.parseHead(pending.readSlice(length: end + 4)!.readableBytesView)
                sink(.head(head))
                if head.status == 101 {
                    mode = .webSocket
                } else if head.status == 204 || head.status == 304 || (100..<200).contains(head.status) {
                    sink(.end)
                } else if head.headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
                    mode = .chunkSize
                } else if let length = head.headers["content-length"].flatMap({ Int($0) }) {
                    if length == 0 { sink(.end) } else { mode = .fixed(length) }
                } else {
                    mode = .untilClose
                }
            case .chunkSize:
                guard let (size, length) = try Self.chunkSize(in: pending.readableBytesView) else { break loop }
                pending.moveReaderIndex(forwardBy: length)
                mode = size == 0 ? .trailer : .chunkData(size)
            case .chunkData(let left):
                guard pending.readableBytes > 0 else { break loop }
                let take = min(left, pending.readableBytes)
                sink(.body(pending.readSlice(length: take)!))
                mode = take == left ? .chunkDataEnd : .chunkData(left - take)
            case .chunkDataEnd:
                guard pending.readableBytes >= 2 else { break loop }
                pending.moveReaderIndex(forwardBy: 2)
                mode = .chunkSize
            case .trailer:
                guard let end = Self.find([13, 10], in: pending) else { break loop }
                pending.moveReaderIndex(forwardBy: end + 2)
                if end == 0 {
                    mode = .head
                    sink(.end)
                }
            case .fixed(let left):
                guard pending.readableBytes > 0 else { break loop }
                let take = min(left, pending.readableBytes)
                sink(.body(pending.readSlice(length: take)!))
                if take == left {
                    mode = .head
                    sink(.end)
                } else {
                    mode = .fixed(left - take)
                }
            case .untilClose:
                guard pending.readableBytes > 0 else { break loop }
                sink(.body(pending.readSlice(length: pending.readableBytes)!))
            case .webSocket:
                guard let (opcode, payload) = try readFrame() else { break loop }
                sink(.frame(opcode: opcode, payload: payload))
            }
        }
    }

    /// The size in a chunk's header line (hex digits, then maybe extensions, then CRLF) and
    /// the line's length with its CRLF; nil while the line is incomplete. Read byte by byte:
    /// with a chunk for every few events, building a string per line showed in profiles.
    static func chunkSize(in bytes: ByteBufferView) throws -> (size: Int, length: Int)? {
        guard let lineFeed = bytes.firstIndex(of: 10) else { return nil }
        var size = 0
        var digits = 0
        for byte in bytes[bytes.startIndex..<lineFeed] {
            let value: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = byte - UInt8(ascii: "A") + 10
            default: value = 0xFF
            }
            guard value != 0xFF else { break }
            digits += 1
            guard digits <= 15 else { break }
            size = size << 4 | Int(value)
        }
        guard digits > 0, digits <= 15, lineFeed > bytes.startIndex, bytes[lineFeed - 1] == 13 else {
            throw Failure.malformed("chunk size '\(String(decoding: bytes[bytes.startIndex..<lineFeed], as: UTF8.self))'")
        }
        return (size, lineFeed + 1 - bytes.startIndex)
    }

    /// One server frame (unmasked). Fragmented messages are passed on frame by frame, which
    /// the payload scanner tolerates because it carries its state across calls.
    private mutating func readFrame() throws -> (UInt8, ByteBuffer)? {
        let view = pending.readableBytesView
        guard view.count >= 2 else { return nil }
        let first = view[view.startIndex]
        let second = view[view.startIndex + 1]
        var length = Int(second & 0x7F)
        var header = 2
        if length == 126 {
            guard view.count >= 4 else { return nil }
            length = Int(view[view.startIndex + 2]) << 8 | Int(view[view.startIndex + 3])
            header = 4
        } else if length == 127 {
            guard view.count >= 10 else { return nil }
            length = 0
            for offset in 2..<10 { length = length << 8 | Int(view[view.startIndex + offset]) }
            header = 10
        }
        if second & 0x80 != 0 { throw Failure.malformed("masked server frame") }
        guard view.count >= header + length else { return nil }
        pending.moveReaderIndex(forwardBy: header)
        return (first & 0x0F, pending.readSlice(length: length)!)
    }

    /// The header fields the tool reads; the others are skipped without building strings for
    /// them, which at thousands of publish answers a second was most of the publisher's time.
    static let keptHeaders = ["content-length", "transfer-encoding", "etag", "last-modified"]

    static func parseHead(_ bytes: ByteBufferView) throws -> Head {
        var lines = bytes.split(separator: 10, omittingEmptySubsequences: true).makeIterator()
        guard let statusLine = lines.next() else { throw Failure.malformed("empty head") }
        // "HTTP/1.1 200 OK": the three digits after the first space.
        guard statusLine.starts(with: "HTTP/".utf8), let space = statusLine.firstIndex(of: 32),
            statusLine.distance(from: space, to: statusLine.endIndex) >= 4
        else {
            throw Failure.malformed("status line '\(String(decoding: statusLine, as: UTF8.self))'")
        }
        var status = 0
        for byte in statusLine[(space + 1)..<(space + 4)] {
            guard (48...57).contains(byte) else { throw Failure.malformed("status line '\(String(decoding: statusLine, as: UTF8.self))'") }
            status = status * 10 + Int(byte - 48)
        }
        var headers: [String: String] = [:]
        while let line = lines.next() {
            guard let colon = line.firstIndex(of: 58) else { continue }
            let name = line[..<colon]
            guard let kept = keptHeaders.first(where: { Self.equalsLowercased(name, $0) }) else { continue }
            let isBlank: (UInt8) -> Bool = { $0 == 32 || $0 == 9 || $0 == 13 }
            var value = line[line.index(after: colon)...]
            while let first = value.first, isBlank(first) { value = value.dropFirst() }
            while let last = value.last, isBlank(last) { value = value.dropLast() }
            headers[kept] = String(decoding: value, as: UTF8.self)
        }
        return Head(status: status, headers: headers)
    }

    private static func equalsLowercased(_ bytes: ByteBufferView.SubSequence, _ lowercased: String) -> Bool {
        guard bytes.count == lowercased.utf8.count else { return false }
        return zip(bytes, lowercased.utf8).allSatisfy { ($0 | 0x20) == $1 || ($0 == $1) }
    }

    static func find(_ needle: [UInt8], in buffer: ByteBuffer) -> Int? {
        let view = buffer.readableBytesView
        guard view.count >= needle.count else { return nil }
        var index = view.startIndex
        let last = view.endIndex - needle.count
        while index <= last {
            if view[index] == needle[0] {
                var matched = true
                for offset in 1..<needle.count where view[index + offset] != needle[offset] {
                    matched = false
                    break
                }
                if matched { return index - view.startIndex }
            }
            index += 1
        }
        return nil
    }
}
