import EddyCore
import FuzzDriver

/// Resume tokens (`Last-Event-ID`, `after=`, ETags): a token parses to a checkpoint whose own
/// token reads back as the same position, or is refused. Every surface reads a client's token
/// through `ResumePosition.parse`: a position that reads back the same, or a start-over whose
/// message quotes a bounded part of the token — never a trap.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzCheckpoint(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let token = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let checkpoint = Checkpoint(token: token) {
        guard Checkpoint(token: checkpoint.token) == checkpoint else { fatalError("\(token) reads back as another position") }
        guard !checkpoint.epoch.isEmpty else { fatalError("\(token) has an empty epoch") }
    }
    for bareSequence in [false, true] {
        switch ResumePosition.parse(token, epoch: "fuzz", bareSequence: bareSequence) {
        case .success(.after(let sequence)):
            let reissued = Checkpoint(epoch: "fuzz", sequence: sequence).token
            guard case .success(.after(sequence)) = ResumePosition.parse(reissued, epoch: "fuzz") else {
                fatalError("\(token) resumes after \(sequence), but \(reissued) does not")
            }
        case .success(.now):
            fatalError("\(token) was read as no token at all")
        case .failure(let startOver):
            guard startOver.description.utf8.count < 400 else { fatalError("a start-over quotes \(startOver.description.utf8.count) bytes") }
        }
    }
    return 0
}

runFuzzer(fuzzCheckpoint)
