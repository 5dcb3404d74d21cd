import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// The client's HTTP requests, each with the bearer token when there is one.
struct HTTPRequester: Sendable {
    struct Answer: Sendable {
        let status: Int
        let headers: HTTPHeaders
        let body: String

        var links: [String: String] { LinkHeader.relations(headers["Link"]) }
        /// The ETag without its quotes (and without `W/`): Eddy's are change-log positions.
        var etag: String? { headers.first(name: "ETag").map(HTTPRequester.opaque) }
    }

    let client: HTTPClient
    let token: String?

    func get(_ url: String, headers: [(String, String)] = [], timeout: TimeAmount = .seconds(30)) async throws -> Answer {
        let response = try await client.execute(request(url, headers), timeout: timeout)
        let body = try await response.body.collect(upTo: 64 << 20)
        return Answer(status: Int(response.status.code), headers: response.headers, body: String(buffer: body))
    }

    /// A response whose body is read as it arrives (event streams).
    func open(_ url: String, headers: [(String, String)]) async throws -> HTTPClientResponse {
        // Streams live as long as the server keeps them; the deadline only bounds a stuck one.
        try await client.execute(request(url, headers), timeout: .hours(24))
    }

    private func request(_ url: String, _ headers: [(String, String)]) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        return request
    }

    static func opaque(_ etag: String) -> String {
        var tag = Substring(etag)
        if tag.hasPrefix("W/") { tag = tag.dropFirst(2) }
        if tag.hasPrefix("\""), tag.hasSuffix("\""), tag.count >= 2 { tag = tag.dropFirst().dropLast() }
        return String(tag)
    }
}
