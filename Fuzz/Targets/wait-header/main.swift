@testable import EddyServer
import FuzzDriver
import HTTPTypes

/// Long-poll lengths: `Wait: N` or `Prefer: wait=N` (several preferences, several fields). Any
/// value is either a number of seconds within the server's maximum or a 400 problem.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzWaitHeader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let maximum = 30.0
    // The first line is the Wait field when it starts with "W:", otherwise each line is a Prefer field.
    var headers = HTTPFields()
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.hasPrefix("W:") {
            headers.append(HTTPField(name: WaitRequest.waitName, value: String(line.dropFirst(2))))
        } else {
            headers.append(HTTPField(name: WaitRequest.preferName, value: String(line)))
        }
    }
    do {
        if let seconds = try WaitRequest.seconds(headers, maximum: maximum) {
            guard seconds.isFinite, seconds >= 0, seconds <= maximum else { fatalError("\(text) waits \(seconds) s") }
        }
    } catch let problem as Problem {
        guard problem.status.code == 400 else { fatalError("\(text) answered \(problem.status)") }
    } catch {
        fatalError("\(text) threw \(error), not a problem")
    }
    return 0
}

runFuzzer(fuzzWaitHeader)
