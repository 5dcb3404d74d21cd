import AsyncHTTPClient
import EddyCore
import EddyServer
import EddyTestSupport
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// The suite's servers: `RunningServer` from the shared test support, which can restart on
/// the same data folder and port.
typealias TestServer = RunningServer

extension RunningServer {
    @discardableResult
    func send(_ method: HTTPMethod, _ path: String, json body: String? = nil) async throws -> Int {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }
}

/// A JSON value written as JSON text, for expectations.
func json(_ text: String) throws -> JSONValue {
    try JSONValue(parsing: text)
}
