import AsyncHTTPClient
import EddyCore
import Foundation
import Synchronization
import Testing

@Suite(.serialized) struct DurabilityTests {
    private func freshDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("eddy-durable-\(UUID().uuidString)")
    }

    @Test func acknowledgedWritesSurviveSIGKILL() async throws {
        let directory = freshDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try ChildServer(dataDirectory: directory)
        try await first.start()
        let base = first.baseURL

        // Eight writers hammer the server; the moment 120 writes are acknowledged it dies.
        let acknowledged = Acknowledgements()
        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    var index = 0
                    while !acknowledged.killed.withLock({ $0 }) {
                        index += 1
                        let path = "/durable/w\(writer)-\(index)"
                        guard let reply = try? await TestHTTP.send(.PUT, base + path, body: #"{"w":\#(writer),"i":\#(index)}"#, timeout: .seconds(5)),
                            reply.status == 201
                        else { continue }
                        let count = acknowledged.etags.withLock { acked in
                            acked[path] = reply.header("ETag") ?? ""
                            return acked.count
                        }
                        if count == 120 {
                            acknowledged.killed.withLock { $0 = true }
                            first.signal(SIGKILL)
                        }
                    }
                }
            }
        }
        _ = try await first.waitForExit()
        #expect(first.process.terminationReason == .uncaughtSignal)

        let second = try ChildServer(dataDirectory: directory)
        try await second.start()
        defer { second.signal(SIGKILL) }
        let acked = acknowledged.etags.withLock { $0 }
        #expect(acked.count >= 120)
        for (path, etag) in acked {
            let reply = try await TestHTTP.send(.GET, second.baseURL + path)
            #expect(reply.status == 200, "acknowledged \(path) lost")
            #expect(reply.header("ETag") == etag)
        }
        // Every acknowledged write left its event in the log.
        let secondURL = second.baseURL
        let logged = try await withTimeout(30) {
            var reader = try await SSEReader.open(secondURL + "/.eddy/events?path=/durable/&after=0")
            var paths = Set<String>()
            let stream = try await TestHTTP.send(.GET, secondURL + "/durable/?max=1000")
            guard case .array(let items)? = stream.json else { throw TestFailure("listing failed") }
            while paths.count < items.count, let event = try await reader.next() {
                if case .string(let path)? = try JSONValue(parsing: event.data)["path"] { paths.insert(path) }
            }
            return paths
        }
        #expect(Set(acked.keys).isSubset(of: logged))
    }

    @Test func sigtermDrainsAndClosesTheStoreCleanly() async throws {
        let directory = freshDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let child = try ChildServer(dataDirectory: directory)
        try await child.start()
        #expect(try await TestHTTP.send(.PUT, child.baseURL + "/kept", body: #"{"k":1}"#).status == 201)
        // An open event stream must not keep the server from stopping.
        var reader = try await SSEReader.open(child.baseURL + "/.eddy/events?path=/")
        child.signal(SIGTERM)
        let status = try await child.waitForExit()
        #expect(status == 0)
        #expect(child.output.contains("store closed"))
        _ = try? await reader.next()

        let again = try ChildServer(dataDirectory: directory)
        try await again.start()
        defer { again.signal(SIGKILL) }
        #expect(try await TestHTTP.send(.GET, again.baseURL + "/kept").body == #"{"k":1}"#)
    }
}

private final class Acknowledgements: Sendable {
    let etags = Mutex<[String: String]>([:])
    let killed = Mutex(false)
}
