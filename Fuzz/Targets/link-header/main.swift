@testable import EddyClient
import FuzzDriver

/// `Link` values the client follows (RFC 8288): any header values, one per line, give a
/// relation map or nothing, and each relation's target is text from inside the header.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzLinkHeader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let values = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    for (relation, target) in LinkHeader.relations(values) {
        guard !relation.isEmpty else { fatalError("an empty relation in \(values)") }
        guard values.contains(where: { $0.contains("<" + target + ">") }) else { fatalError("\(target) is not a target in \(values)") }
    }
    return 0
}

runFuzzer(fuzzLinkHeader)
