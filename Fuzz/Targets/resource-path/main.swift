import EddyCore
import FuzzDriver

/// Request targets: a path either parses or is refused with `PathError`. A parsed path
/// survives its own encoding and the decoded form stores keep, and every path operation on it
/// holds.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzResourcePath(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let path = try? ResourcePath(parsing: text) else {
        _ = try? ResourcePath(decoded: text)
        return 0
    }
    guard path.description.utf8.count <= ResourcePath.maximumLength else { fatalError("over the length limit: \(path)") }
    guard let encoded = try? ResourcePath(parsing: path.encoded), encoded == path else {
        fatalError("the encoded form \(path.encoded) does not name \(path)")
    }
    if let decoded = try? ResourcePath(decoded: path.description) {
        guard decoded == path else { fatalError("the decoded form \(path.description) names \(decoded)") }
    }
    for ancestor in path.ancestors {
        guard ancestor.contains(path) else { fatalError("\(ancestor) is an ancestor not containing \(path)") }
    }
    if let parent = path.parent {
        guard parent.isCollection, parent.contains(path), parent != path else { fatalError("the parent of \(path) is \(parent)") }
    }
    _ = path.subtreeRange
    if path.isCollection { _ = try? path.child("x%2F\u{301}") }
    return 0
}

runFuzzer(fuzzResourcePath)
