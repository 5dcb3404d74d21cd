import EddyCore
@testable import EddyServer
import FuzzDriver

/// Resume tokens (`Last-Event-ID`, `after=`, ETags): a token parses to a checkpoint whose own
/// token reads back as the same position, or is refused. The event log's plain sequence
/// positions are refused with a problem, never a trap.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzCheckpoint(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let token = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let checkpoint = Checkpoint(token: token) {
        guard Checkpoint(token: checkpoint.token) == checkpoint else { fatalError("\(token) reads back as another position") }
        guard !checkpoint.epoch.isEmpty else { fatalError("\(token) has an empty epoch") }
    }
    _ = try? EventLogHandler.position(token)
    return 0
}

runFuzzer(fuzzCheckpoint)
