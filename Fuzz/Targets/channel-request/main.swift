@testable import EddyServer
import Foundation
import FuzzDriver
import HTTPTypes

/// Solid subscription requests: a body, for each channel type, either makes a channel request
/// or is refused with a 422 problem; the first line, if it starts with "CT:", is the
/// Content-Type, checked for its JSON-LD profile (415 otherwise).
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzChannelRequest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if text.hasPrefix("CT:") {
        let end = text.firstIndex(of: "\n") ?? text.endIndex
        let type = String(text[text.index(text.startIndex, offsetBy: 3)..<end])
        text = String(text[end...].dropFirst())
        do {
            try ChannelRequest.checkMediaType([.contentType: type])
        } catch let problem as Problem {
            guard problem.status.code == 415 else { fatalError("Content-Type \(type) answered \(problem.status)") }
        } catch {
            fatalError("Content-Type \(type) threw \(error)")
        }
    }
    for type in SolidVocabulary.ChannelType.allCases {
        do {
            let request = try ChannelRequest(parsing: text, expectedType: type)
            guard request.type == type else { fatalError("asked for \(type), made \(request.type)") }
            if let rate = request.rate {
                guard rate >= .zero, rate <= SolidChannel.maximumRate else { fatalError("rate \(rate) from \(text)") }
            }
        } catch let problem as Problem {
            guard problem.status.code == 422 else { fatalError("\(text) answered \(problem.status)") }
        } catch {
            fatalError("\(text) threw \(error), not a problem")
        }
    }
    return 0
}

runFuzzer(fuzzChannelRequest)
