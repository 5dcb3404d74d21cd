import AsyncHTTPClient
import EddyCore
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// Eddy's requests to other Concrnt servers: every one through the outbound guard, without
/// redirects (one could lead past the guard), with a deadline and a bounded answer. Each
/// server's `/.well-known/concrnt` is kept for a while, for a bounded number of servers.
final class RemoteServers: Sendable {
    static let maximumAnswerBytes = 256 * 1024
    static let maximumKnownServers = 256
    static let wellKnownSeconds: Double = 300

    /// An origin (`http://host:port`), the configured peers' schemes kept: a hint names only a
    /// host, and reaches it by https unless a peer on that host says http.
    let peers: [URL]
    private let client: HTTPClient
    let outboundGuard: OutboundGuard
    private let timeout: TimeAmount
    private let known = Mutex<[ByteIdentity: (document: JSONValue, fetched: Date)]>([:])

    init(peers: [URL], outbound: OutboundGuard, timeoutSeconds: Double = 5) {
        self.peers = peers
        self.outboundGuard = outbound
        timeout = .milliseconds(Int64(timeoutSeconds * 1000))
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(5), read: .milliseconds(Int64(timeoutSeconds * 1000)))
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func shutdown() async throws {
        try await client.shutdown()
    }

    /// The origin by which a hinted host is reached.
    func origin(ofHost host: String) -> String {
        for peer in peers {
            guard let scheme = peer.scheme, let peerHost = peer.host else { continue }
            let authority = peer.port.map { "\(peerHost):\($0)" } ?? peerHost
            if Authority.same(authority[...], host[...], scheme: scheme[...]) { return scheme + "://" + host }
        }
        return "https://" + host
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// GETs `url`; the status and the body (at most `maximumAnswerBytes`).
    func get(_ url: String, accept: String = "application/json") async throws -> (status: Int, body: String) {
        guard let parsed = URL(string: url) else { throw Failure(description: "\(url) is not a URL") }
        do {
            _ = try await outboundGuard.vet(parsed)
        } catch {
            throw Failure(description: "\(url): \(error)")
        }
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: accept)
        let response = try await client.execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: Self.maximumAnswerBytes)
        return (Int(response.status.code), String(buffer: body))
    }

    /// The endpoint template `name` of the server at `origin`, made absolute; nil when the
    /// server does not advertise it.
    func endpoint(_ name: String, at origin: String) async throws -> String? {
        let key = ByteIdentity(origin)
        var document = known.withLock { known -> JSONValue? in
            guard let entry = known[key], Date().timeIntervalSince(entry.fetched) < Self.wellKnownSeconds else { return nil }
            return entry.document
        }
        if document == nil {
            let (status, body) = try await get(origin + "/.well-known/concrnt")
            guard status == 200, let fetched = try? JSONValue(parsing: body), case .object = fetched else {
                throw Failure(description: "\(origin)/.well-known/concrnt answered \(status)")
            }
            known.withLock { known in
                if known.count >= Self.maximumKnownServers { known.removeAll() }
                known[key] = (fetched, Date())
            }
            document = fetched
        }
        guard case .string(let template)? = document?["endpoints"]?[name] else { return nil }
        return template.hasPrefix("/") ? origin + template : template
    }

    /// `value` for a template's variable: percent-encoded as RFC 6570 simple expansion does.
    static func encoded(_ value: String) -> String {
        var unreserved = CharacterSet.alphanumerics
        unreserved.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? value
    }
}

extension RemoteServers {
    /// Refuses a URL (`ws:`/`wss:` too) the outbound guard refuses.
    func vet(_ url: String) async throws {
        var http = url
        if http.hasPrefix("wss://") { http = "https://" + http.dropFirst(6) } else if http.hasPrefix("ws://") { http = "http://" + http.dropFirst(5) }
        guard let parsed = URL(string: http) else { throw Failure(description: "\(url) is not a URL") }
        do {
            _ = try await outboundGuard.vet(parsed)
        } catch {
            throw Failure(description: "\(url): \(error)")
        }
    }
}
