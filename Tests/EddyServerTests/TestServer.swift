import AsyncHTTPClient
import EddyCore
import EddyServer
import EddyTestSupport
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// The suite's servers: `RunningServer` from the shared test support.
typealias TestServer = RunningServer

extension RunningServer {
    func send(
        _ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], json body: String? = nil,
        contentType: String? = "application/json"
    ) async throws -> TestResponse {
        try await TestHTTP.send(method, baseURL + path, headers: headers, body: body, contentType: contentType)
    }
}

struct TestResponse: Sendable {
    let status: Int
    let headers: HTTPHeaders
    let body: String

    func header(_ name: String) -> String? { headers.first(name: name) }
    var json: JSONValue? { try? JSONValue(parsing: body) }
}

enum TestHTTP {
    static func send(
        _ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: String? = nil,
        contentType: String? = "application/json", timeout: TimeAmount = .seconds(30)
    ) async throws -> TestResponse {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            if let contentType, !headers.contains(where: { $0.0.lowercased() == "content-type" }) {
                request.headers.add(name: "Content-Type", value: contentType)
            }
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: timeout)
        let collected = try await response.body.collect(upTo: 64 << 20)
        return TestResponse(status: Int(response.status.code), headers: response.headers, body: String(buffer: collected))
    }
}

/// Reads a `text/event-stream` response event by event.
struct SSEReader {
    struct Event: Equatable {
        var id: String?
        var event: String?
        var data: String
    }

    private var iterator: HTTPClientResponse.Body.AsyncIterator
    private var pending = ""
    let response: HTTPClientResponse

    static func open(_ url: String, headers: [(String, String)] = []) async throws -> SSEReader {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "text/event-stream")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        return SSEReader(response: response)
    }

    private init(response: HTTPClientResponse) {
        self.response = response
        self.iterator = response.body.makeAsyncIterator()
    }

    /// The next event with data, skipping comments; nil when the stream ends.
    mutating func next() async throws -> Event? {
        while true {
            if let range = pending.range(of: "\n\n") {
                let block = String(pending[..<range.lowerBound])
                pending = String(pending[range.upperBound...])
                var event = Event(id: nil, event: nil, data: "")
                var dataLines: [String] = []
                for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                    if line.hasPrefix(":") { continue }
                    if line.hasPrefix("id: ") { event.id = String(line.dropFirst(4)) }
                    if line.hasPrefix("event: ") { event.event = String(line.dropFirst(7)) }
                    if line.hasPrefix("data: ") { dataLines.append(String(line.dropFirst(6))) }
                    if line == "data:" { dataLines.append("") }
                }
                if dataLines.isEmpty { continue }
                event.data = dataLines.joined(separator: "\n")
                return event
            }
            guard let chunk = try await iterator.next() else { return nil }
            pending += String(buffer: chunk)
        }
    }
}

/// Fails a test that would otherwise hang.
func withTimeout<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            throw TimeoutError(seconds: seconds)
        }
        let result = try await group.next()!
        group.cancelAll()
        return result
    }
}

struct TimeoutError: Error, CustomStringConvertible {
    let seconds: Double
    var description: String { "timed out after \(seconds) s" }
}
