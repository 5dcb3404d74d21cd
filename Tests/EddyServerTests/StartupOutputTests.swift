import EddyTestSupport
import Foundation
import Testing

/// What `eddy` tells a user at the command line: its version, and where to go once it serves.
@Suite struct StartupOutputTests {
    @Test func versionIsPrinted() async throws {
        let process = Process()
        process.executableURL = try ChildServer.executable
        process.arguments = ["--version"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = try await blocking { pipe.fileHandleForReading.readDataToEndOfFile() }
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(String(decoding: output, as: UTF8.self).wholeMatch(of: /[0-9]+\.[0-9]+\.[0-9]+\n/) != nil)
    }

    @Test func serveListsTheURLsAUserWantsAndTheyAnswer() async throws {
        let directory = RunningServer.freshDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let child = try ChildServer(dataDirectory: directory, arguments: ["--metrics", "127.0.0.1:0"])
        try await child.start()
        defer { child.signal(SIGKILL) }
        let deadline = Date().addingTimeInterval(20)
        while child.output.firstMatch(of: /metrics +http:\/\/127\.0\.0\.1:[0-9]+\/metrics/) == nil {
            guard Date() < deadline else { throw TestFailure("no metrics URL in: \(child.output)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        var urls: [String: String] = [:]
        for line in child.output.split(separator: "\n") {
            let words = line.split(separator: " ")
            guard let first = words.firstIndex(where: { $0.hasPrefix("http") }), first > 0 else { continue }
            urls[words[..<first].joined(separator: " ")] = String(words[first])
        }
        #expect(urls["API"] == child.baseURL + "/")
        for name in ["live page", "OpenAPI", "metrics"] {
            let url = try #require(urls[name], "no \(name) URL in: \(child.output)")
            #expect(try await TestHTTP.send(.GET, url).status == 200, "\(name): \(url)")
        }
        #expect(child.output.contains(child.baseURL + "/.well-known/solid"))
        #expect(child.output.contains(child.baseURL + "/.well-known/concrnt"))
    }
}
