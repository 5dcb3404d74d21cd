import EddyCore
import FuzzDriver

/// Request bodies: any bytes either parse to one JSON value or are refused with `JSONError`.
/// What parses serialises to text that parses again, and to the same text: stored values and
/// their ETags depend on that text being stable.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard let value = try? JSONValue(parsing: bytes) else { return 0 }
    let text = value.text
    guard let again = try? JSONValue(parsing: text) else {
        fatalError("the serialised form does not parse: \(text)")
    }
    guard again.text == text else { fatalError("serialising is not stable: \(text) then \(again.text)") }
    return 0
}

runFuzzer(fuzzJSON)
