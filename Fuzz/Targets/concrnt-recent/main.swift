@testable import EddyServer
import FuzzDriver

/// The query of `/.eddy/concrnt/recent` and the `cc://` URIs in it: a query either names
/// between one and 64 timelines with a limit of 1…64, or is refused with a 400 problem.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzConcrntRecent(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let query = try RecentTimelines.Query(rawQuery: text)
        guard (1...RecentTimelines.maximumTimelines).contains(query.timelines.count) else { fatalError("\(query.timelines.count) timelines") }
        guard (1...RecentTimelines.maximumLimit).contains(query.limit) else { fatalError("limit \(query.limit)") }
        for timeline in query.timelines { _ = try timeline.membersPath }
    } catch let problem as Problem {
        guard problem.status.code == 400 else { fatalError("\(text) answered \(problem.status)") }
    } catch {
        fatalError("\(text) threw \(error), not a problem")
    }
    return 0
}

runFuzzer(fuzzConcrntRecent)
