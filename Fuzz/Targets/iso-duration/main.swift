import EddyCore
import FuzzDriver

/// The Solid `rate` feature: an ISO 8601 duration is read within a maximum — the one Solid
/// channels use, and the largest a `Duration` of milliseconds can hold — or refused. What is
/// read is never negative nor beyond the maximum, and its canonical spelling reads back the same.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzISODuration(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    for maximum in [Duration.seconds(86_400), Duration.milliseconds(Int64.max)] {
        guard let duration = try? ISO8601Duration.parse(text, maximum: maximum) else { continue }
        let milliseconds = ISO8601Duration.milliseconds(duration)
        guard milliseconds >= 0, milliseconds <= ISO8601Duration.milliseconds(maximum) else {
            fatalError("\(text) is \(milliseconds) ms, outside 0...\(maximum)")
        }
        // Components longer than 15 digits are refused, so only a duration of fewer seconds
        // than that has a canonical spelling that reads back.
        guard milliseconds < 1_000_000_000_000_000_000 else { continue }
        let canonical = ISO8601Duration.format(duration)
        guard let again = try? ISO8601Duration.parse(canonical, maximum: maximum), again == duration else {
            fatalError("\(text) is spelt \(canonical), which does not read back")
        }
    }
    return 0
}

runFuzzer(fuzzISODuration)
