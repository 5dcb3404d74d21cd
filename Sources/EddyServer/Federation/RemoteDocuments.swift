import ConcrntCrypto
import EddyCore
import Foundation
import Synchronization

/// Signed documents of entities that live on another server, fetched from their home's
/// well-known resource endpoint and believed only once their signature verifies as the
/// author's own for that key. Kept a short while, within a byte budget.
final class RemoteDocuments: Sendable {
    static let cacheBytes = 4 << 20
    static let freshSeconds: Double = 30

    private let servers: RemoteServers
    private let cache = Mutex(Cache())

    struct Cache {
        var entries: [ConcrntURI: (envelope: String, fetched: Date)] = [:]
        var bytes = 0
    }

    init(servers: RemoteServers) {
        self.servers = servers
    }

    /// The signed document `uri` names, from `origin`; nil when the home has none.
    func document(_ uri: ConcrntURI, at origin: String) async throws -> String? {
        if let entry = cache.withLock({ $0.entries[uri] }), Date().timeIntervalSince(entry.fetched) < Self.freshSeconds {
            return entry.envelope
        }
        let url: String
        if let resolve = try await servers.endpoint("net.concrnt.core.resolve", at: origin) {
            url = resolve.replacingOccurrences(of: "{uri}", with: RemoteServers.encoded(uri.description))
        } else if let resource = try await servers.endpoint("net.concrnt.core.resource", at: origin) {
            url = resource.replacingOccurrences(of: "${uri}", with: RemoteServers.encoded(uri.description))
        } else {
            throw RemoteServers.Failure(description: "\(origin) advertises no resource endpoint")
        }
        let (status, body) = try await servers.get(url)
        if status == 404 { return nil }
        guard status == 200 else { throw RemoteServers.Failure(description: "\(url) answered \(status)") }
        try Self.check(body, isDocumentOf: uri)
        remember(uri, body)
        return body
    }

    /// Refuses an envelope that is not `uri`'s document, signed by its author.
    static func check(_ envelope: String, isDocumentOf uri: ConcrntURI) throws {
        let verified: VerifiedDocument
        do {
            verified = try SignedDocument(json: envelope).verify()
        } catch {
            throw RemoteServers.Failure(description: "the document of \(uri) does not verify: \(error)")
        }
        guard verified.author.hasSameBytes(as: uri.ccid), let key = verified.key, key.hasSameBytes(as: uri.key) else {
            throw RemoteServers.Failure(description: "the document served for \(uri) is \(verified.author)'s \(verified.key ?? "keyless") document")
        }
    }

    func forget(_ uri: ConcrntURI) {
        cache.withLock { cache in
            if let old = cache.entries.removeValue(forKey: uri) { cache.bytes -= old.envelope.utf8.count }
        }
    }

    private func remember(_ uri: ConcrntURI, _ envelope: String) {
        let size = envelope.utf8.count
        guard size <= Self.cacheBytes / 16 else { return }
        cache.withLock { cache in
            if let old = cache.entries.removeValue(forKey: uri) { cache.bytes -= old.envelope.utf8.count }
            if cache.bytes + size > Self.cacheBytes {
                // Oldest first, until the new one fits.
                for (key, entry) in cache.entries.sorted(by: { $0.value.fetched < $1.value.fetched }) {
                    guard cache.bytes + size > Self.cacheBytes else { break }
                    cache.entries.removeValue(forKey: key)
                    cache.bytes -= entry.envelope.utf8.count
                }
            }
            cache.entries[uri] = (envelope, Date())
            cache.bytes += size
        }
    }
}
