import ConcrntCrypto
@testable import EddyServer
import Foundation
import FuzzDriver

/// Date-times from clients: Solid `startAt`/`endAt` (RFC 3339 through ISO8601DateFormatter)
/// and Concrnt's `signedAt` (ConcrntCrypto's RFC3339). Each parses to a finite date or is
/// refused; Eddy's own formatting of a parsed date parses back to the same millisecond.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzInstant(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let date = Instant.parse(text) {
        guard date.timeIntervalSince1970.isFinite else { fatalError("\(text) is \(date)") }
        // Before the Gregorian calendar's adoption Foundation's calendars disagree (year 0 reads,
        // then formats as year 1); the dates Eddy keeps are recent.
        let formatted = Instant.format(date)
        if date.timeIntervalSince1970 > -2_208_988_800 {
            guard let again = Instant.parse(formatted), abs(again.timeIntervalSince(date)) < 0.001 else {
                fatalError("\(text) formats as \(formatted), which does not read back")
            }
        }
    }
    if let date = RFC3339.parse(text) {
        guard date.timeIntervalSince1970.isFinite else { fatalError("\(text) is \(date)") }
    }
    return 0
}

runFuzzer(fuzzInstant)
