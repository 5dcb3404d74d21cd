@testable import EddyServer
import FuzzDriver

/// The Solid `rate` feature: an ISO 8601 duration parses to a finite, non-negative number of
/// seconds — one that the notification feed and the delivery worker can turn into a time
/// amount without overflow — or is refused.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzISODuration(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let seconds = ISODuration.seconds(text) else { return 0 }
    guard seconds.isFinite, seconds >= 0 else { fatalError("\(text) is \(seconds) s") }
    // Nanoseconds in an Int64, as TimeAmount and Duration hold them.
    guard seconds < Double(Int64.max) / 1e9 else { fatalError("\(text) is \(seconds) s, beyond any time amount") }
    return 0
}

runFuzzer(fuzzISODuration)
