import Foundation
import NIOCore

/// Finds `"t":<digits>` and `"n":<digits>` pairs in a byte stream, whatever surrounds them: the
/// same event arrives as an SSE data line, inside a WebSocket envelope or a long-poll body, and
/// each server re-frames it differently. State carries over between calls, so a payload split
/// across reads, chunks or frames is still found.
struct PayloadScanner {
    private enum State {
        case idle
        case quote
        case key(UInt8)
        case closed(UInt8)
        case value(UInt8, digits: Int, UInt64)
    }

    private var state = State.idle
    private var time: UInt64?
    private var number: UInt64?

    /// Calls `found(t, n)` once for every object that carried both keys.
    mutating func scan(_ buffer: ByteBuffer, _ found: (_ t: UInt64, _ n: UInt64) -> Void) {
        buffer.withUnsafeReadableBytes { bytes in
            guard let base = bytes.baseAddress else { return }
            var index = 0
            while index < bytes.count {
                if case .idle = state {
                    // Most bytes (SSE fields, envelopes, other keys' values) lie between a value
                    // and the next quote: skip them at memchr's speed, not byte by byte.
                    guard let quote = memchr(base + index, Int32(UInt8(ascii: "\"")), bytes.count - index) else { return }
                    index = base.distance(to: UnsafeRawPointer(quote)) + 1
                    if let end = scanPlainPair(bytes, keyAt: index, found) {
                        index = end
                    } else {
                        state = .quote
                    }
                    continue
                }
                step(bytes[index], found)
                index += 1
            }
        }
    }

    /// The common case without the byte-by-byte state machine: `t":123` or `n":123` (the key's
    /// opening quote just read) ending inside this buffer. Returns where the number ended, or nil
    /// to let the state machine take it (spaces, escapes, or a number cut by the buffer's end).
    @inline(__always)
    private mutating func scanPlainPair(
        _ bytes: UnsafeRawBufferPointer, keyAt start: Int, _ found: (_ t: UInt64, _ n: UInt64) -> Void
    ) -> Int? {
        guard start + 3 < bytes.count else { return nil }
        let key = bytes[start]
        guard key == UInt8(ascii: "t") || key == UInt8(ascii: "n"), bytes[start + 1] == UInt8(ascii: "\""),
            bytes[start + 2] == UInt8(ascii: ":")
        else { return nil }
        var index = start + 3
        var value: UInt64 = 0
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            value = value &* 10 &+ UInt64(bytes[index] - UInt8(ascii: "0"))
            index += 1
        }
        guard index > start + 3, index < bytes.count else { return nil }
        complete(key: key, value: value, found)
        return index
    }

    @inline(__always)
    private mutating func complete(key: UInt8, value: UInt64, _ found: (_ t: UInt64, _ n: UInt64) -> Void) {
        if key == UInt8(ascii: "t") { time = value } else { number = value }
        if let t = time, let n = number {
            found(t, n)
            time = nil
            number = nil
        }
    }

    @inline(__always)
    private mutating func step(_ byte: UInt8, _ found: (_ t: UInt64, _ n: UInt64) -> Void) {
        switch state {
        case .idle:
            if byte == UInt8(ascii: "\"") { state = .quote }
        case .quote:
            state = byte == UInt8(ascii: "t") || byte == UInt8(ascii: "n") ? .key(byte) : (byte == UInt8(ascii: "\"") ? .quote : .idle)
        case .key(let key):
            state = byte == UInt8(ascii: "\"") ? .closed(key) : .idle
        case .closed(let key):
            if byte == UInt8(ascii: ":") {
                state = .value(key, digits: 0, 0)
            } else {
                // `"t"` followed by anything but a colon was the end of a string value.
                state = byte == UInt8(ascii: "\"") ? .quote : .idle
            }
        case .value(let key, let digits, let value):
            if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                state = .value(key, digits: digits + 1, value &* 10 &+ UInt64(byte - UInt8(ascii: "0")))
            } else if digits == 0 && (byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\\")) {
                return
            } else {
                if digits > 0 { complete(key: key, value: value, found) }
                state = byte == UInt8(ascii: "\"") ? .quote : .idle
            }
        }
    }
}

/// Which event numbers one subscriber has seen; grows as numbers grow.
struct SeenSet {
    private var words: [UInt64] = []

    /// True when `n` was new.
    mutating func insert(_ n: Int) -> Bool {
        let word = n >> 6
        if word >= words.count { words.append(contentsOf: repeatElement(0, count: word - words.count + 1)) }
        let bit = UInt64(1) << UInt64(n & 63)
        if words[word] & bit != 0 { return false }
        words[word] |= bit
        return true
    }
}
