@testable import EddyServer
import FuzzDriver

/// `solid-0.1` lines: each either subscribes to a resource of this server, named by an
/// absolute URI of this host without query or fragment, or is refused with a reason.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzSolidLegacy(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    for line in text.split(whereSeparator: \.isNewline) {
        for (host, scheme) in [("pod.example:8080", "http"), ("[::1]", "https")] {
            do {
                let command = try LegacyCommand.parse(line, host: host, scheme: scheme)
                guard !command.uri.contains("#"), !command.uri.contains("?") else { fatalError("\(line) acknowledged as \(command.uri)") }
                guard command.uri.lowercased().hasPrefix("http://") || command.uri.lowercased().hasPrefix("https://") else {
                    fatalError("\(line) acknowledged as \(command.uri)")
                }
            } catch {
                guard !error.reason.isEmpty else { fatalError("\(line) refused without a reason") }
            }
        }
    }
    return 0
}

runFuzzer(fuzzSolidLegacy)
