import ConcrntCrypto
import EddyCore
import Foundation
import Logging
import Synchronization

/// Where each Concrnt entity lives: on this server, or on another one (its origin). Learned
/// from a `cc://<ccid>@<host>/…` hint, or by asking the configured peers' entity endpoints;
/// a remote home is kept in the store (so a subscription made after a restart, by path alone,
/// still finds it) and in a bounded memory cache. An entity with no known remote home is
/// this server's.
final class HomeDirectory: Sendable {
    enum Home: Equatable, Sendable {
        case here
        case remote(origin: String)
    }

    static let registrationKind = "concrnt-home"
    /// Remote homes kept in the store; beyond it a home is only remembered in memory.
    static let maximumStored = 10_000
    static let maximumCached = 10_000
    /// How long "no peer knows it" is believed before the peers are asked again.
    static let unknownSeconds: Double = 60

    private let store: any ResourceStore
    private let servers: RemoteServers
    private let logger: Logger
    private let cache = Mutex<[ByteIdentity: (home: Home, until: Date)]>([:])

    init(store: any ResourceStore, servers: RemoteServers, logger: Logger) {
        self.store = store
        self.servers = servers
        self.logger = logger
    }

    /// The home of the entity `uri` names: its hint when it has one (a hint naming `ownHost`,
    /// the host the client reached this server by, is this server), else what is known.
    func home(of uri: ConcrntURI, ownHost: String?) async -> Home {
        if let hint = uri.homeHint {
            if let ownHost, Authority.same(hint[...], ownHost[...], scheme: "https") { return .here }
            let home = Home.remote(origin: servers.origin(ofHost: hint))
            await learn(uri.ccid, home)
            return home
        }
        return await home(of: uri.ccid)
    }

    /// The home of `ccid`, asking the peers when nothing is known and `askingPeers`. An answer
    /// to a peer's own question never asks the peers: two servers that list each other would
    /// otherwise ask each other in a circle.
    func home(of ccid: String, askingPeers: Bool = true) async -> Home {
        let key = ByteIdentity(ccid)
        if let cached = cache.withLock({ $0[key] }), cached.until > Date() { return cached.home }
        if let stored = try? await store.registration(id: Self.registrationID(ccid)),
            case .string(let origin)? = (try? JSONValue(parsing: stored.payload))?["origin"]
        {
            remember(ccid, .remote(origin: origin), for: .infinity)
            return .remote(origin: origin)
        }
        if let home = try? await store.collectionExists(ResourcePath(segments: [ConcrntURI.root, ccid], isCollection: true)), home {
            remember(ccid, .here, for: Self.unknownSeconds)
            return .here
        }
        guard askingPeers else { return .here }
        for peer in servers.peers {
            guard let origin = await ask(peer, about: ccid) else { continue }
            await learn(ccid, .remote(origin: origin))
            return .remote(origin: origin)
        }
        remember(ccid, .here, for: Self.unknownSeconds)
        return .here
    }

    /// Asks a peer's entity endpoint; the origin of the entity's home when the peer knows it.
    private func ask(_ peer: URL, about ccid: String) async -> String? {
        guard let scheme = peer.scheme else { return nil }
        let origin = peer.absoluteString.hasSuffix("/") ? String(peer.absoluteString.dropLast()) : peer.absoluteString
        do {
            guard let template = try await servers.endpoint("net.concrnt.core.entity", at: origin) else { return nil }
            let (status, body) = try await servers.get(
                template.replacingOccurrences(of: "${ccid}", with: ccid).replacingOccurrences(of: "{ccid}", with: ccid))
            guard status == 200, case .string(let domain)? = (try? JSONValue(parsing: body))?["domain"], !domain.isEmpty else { return nil }
            return domain.contains("://") ? domain : scheme + "://" + domain
        } catch {
            logger.debug("a peer could not be asked", metadata: ["peer": "\(peer)", "error": "\(error)"])
            return nil
        }
    }

    /// The `domain` an entity's own affiliation document names (a signed document whose schema
    /// names an affiliation), if `document` is one.
    static func affiliationDomain(of document: VerifiedDocument) -> String? {
        guard document.kind != "delete", let schema = document.schema, schema.lowercased().contains("affiliation"),
            case .string(let domain)? = (try? JSONValue(parsing: document.value ?? "null"))?["domain"], !domain.isEmpty,
            domain.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") })
        else { return nil }
        return domain
    }

    /// Learns from an entity document held here: an affiliation says where its author lives.
    /// One naming `ownHost` says the author lives here, and undoes a remote home learned before.
    func learn(from document: VerifiedDocument, ownHost: String?) async {
        guard let domain = Self.affiliationDomain(of: document) else { return }
        if let ownHost, Authority.same(domain[...], ownHost[...], scheme: "https") {
            remember(document.author, .here, for: .infinity)
            _ = try? await store.deleteRegistration(id: Self.registrationID(document.author))
            return
        }
        await learn(document.author, .remote(origin: servers.origin(ofHost: domain)))
    }

    private func learn(_ ccid: String, _ home: Home) async {
        let known = cache.withLock { $0[ByteIdentity(ccid)]?.home }
        remember(ccid, home, for: .infinity)
        guard known != home, case .remote(let origin) = home else { return }
        let stored = (try? await store.registrationCount(kind: Self.registrationKind, owner: .anonymous(payloadPrefix: "{"))) ?? 0
        guard stored < Self.maximumStored else { return }
        let payload = "{\"origin\":\(JSONValue.quoted(origin))}"
        do {
            try await store.saveRegistration(
                StoredRegistration(id: Self.registrationID(ccid), kind: Self.registrationKind, subject: nil, payload: payload, cursor: 0))
        } catch {
            logger.warning("an entity's home could not be kept", metadata: ["ccid": "\(ccid)", "error": "\(error)"])
        }
    }

    private func remember(_ ccid: String, _ home: Home, for seconds: Double) {
        cache.withLock { cache in
            if cache.count >= Self.maximumCached { cache.removeAll() }
            cache[ByteIdentity(ccid)] = (home, seconds.isFinite ? Date().addingTimeInterval(seconds) : .distantFuture)
        }
    }

    private static func registrationID(_ ccid: String) -> String { "concrnt-home:" + ccid }
}
