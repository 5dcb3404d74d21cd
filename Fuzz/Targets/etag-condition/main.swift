import EddyCore
import FuzzDriver

/// `If-Match` / `If-None-Match`: `*` or a list of entity tags, parsed or refused. A parsed list
/// matches each tag it names, and each tag that looks like a resume position reads as one.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzETagCondition(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let header = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let condition = ETagCondition(header: header) else { return 0 }
    switch condition {
    case .any:
        guard condition.matches(ETag(opaque: "x")) else { fatalError("* does not match") }
    case .tags(let tags):
        guard !tags.isEmpty else { fatalError("an empty list parsed from \(header)") }
        for tag in tags {
            guard condition.matches(tag) else { fatalError("\(header) does not match its own tag \(tag)") }
            _ = tag.checkpoint
            _ = tag.headerValue
        }
    }
    guard !condition.matches(nil) else { fatalError("\(header) matches a missing resource") }
    return 0
}

runFuzzer(fuzzETagCondition)
