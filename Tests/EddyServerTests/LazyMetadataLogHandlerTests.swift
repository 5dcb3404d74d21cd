import Logging
import Synchronization
import Testing

@testable import EddyServer

@Suite struct LazyMetadataLogHandlerTests {
    final class Lines: TextOutputStream, Sendable {
        let text = Mutex("")
        func write(_ string: String) { text.withLock { $0 += string } }
    }

    private func logger(writingTo lines: Lines) -> Logger {
        Logger(label: "eddy-test") { label in
            LazyMetadataLogHandler(label: label) { label, provider in
                StreamLogHandler(label: label, stream: lines, metadataProvider: provider)
            }
        }
    }

    @Test func linesCarryTheMetadataSetBeforeThem() {
        let lines = Lines()
        var logger = logger(writingTo: lines)
        logger[metadataKey: "hb.request.id"] = "r1"
        logger.info("stored", metadata: ["path": "/a"])
        let written = lines.text.withLock { $0 }
        #expect(written.contains("eddy-test: hb.request.id=r1 path=/a [EddyServerTests] stored"), "\(written)")
    }

    @Test func levelAndMetadataBelongToEachCopy() {
        let lines = Lines()
        var original = logger(writingTo: lines)
        original.logLevel = .notice
        var copy = original
        copy[metadataKey: "copy"] = "yes"
        copy.logLevel = .debug
        original.info("hidden")
        original.notice("plain")
        copy.debug("shown")
        let written = lines.text.withLock { $0 }.split(separator: "\n")
        #expect(written.count == 2, "\(written)")
        #expect(written.first?.hasSuffix("eddy-test: [EddyServerTests] plain") == true, "\(written)")
        #expect(written.last?.contains("copy=yes [EddyServerTests] shown") == true, "\(written)")
    }
}
