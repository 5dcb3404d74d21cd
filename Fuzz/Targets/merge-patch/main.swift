import EddyCore
import FuzzDriver

/// PATCH with application/merge-patch+json: the input is a stored document and a patch,
/// separated by the first newline. Applying a merge patch (RFC 7396) is idempotent, and its
/// result serialises to JSON that parses.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzMergePatch(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let newline = bytes.firstIndex(of: 0x0A) ?? bytes.endIndex
    guard let target = try? JSONValue(parsing: bytes[..<newline]),
        let patch = try? JSONValue(parsing: bytes[min(newline + 1, bytes.endIndex)...])
    else { return 0 }
    let once = target.merging(patch: patch)
    let twice = once.merging(patch: patch)
    guard once == twice else { fatalError("a merge patch applied twice changed the result again: \(once.text) then \(twice.text)") }
    guard (try? JSONValue(parsing: once.text)) != nil else { fatalError("the merged document does not parse: \(once.text)") }
    return 0
}

runFuzzer(fuzzMergePatch)
