import ConcrntCrypto
import EddyCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Concrnt federation: resources of entities that live on other servers. Reading one fetches
/// it from its home (`RemoteDocuments`); watching one, by any protocol, makes this server
/// watch it upstream, over one realtime socket per remote server (`Upstream`), and commit what
/// arrives — once its signature verifies — into its own change log, where every protocol's
/// subscribers get it and resume works as for any other write.
///
/// What is watched is learned from the hub (`Hub.setWatchListener`): a value of
/// `/cc/<ccid>/<key>` or the members of `/cc/<ccid>/<key>/` whose entity lives elsewhere
/// becomes `cc://<ccid>/<key>` on that server's socket. A watch of a whole subtree is not
/// relayed: CIP-7 subscribes to resources, not prefixes.
final class Federation: Service, Sendable {
    static let maximumUpstreams = 64
    /// Home lookups running at once; a watch beyond it is served locally only.
    static let maximumLookups = 16

    let servers: RemoteServers
    let directory: HomeDirectory
    let documents: RemoteDocuments
    private let store: any ResourceStore
    private let hub: Hub
    private let resourcesPerUpstream: Int
    private let logger: Logger
    private let upstreams = Mutex<[ByteIdentity: (upstream: Upstream, resources: Set<ByteIdentity>)]>([:])
    private let lookups = Atomic<Int>(0)

    init(
        store: any ResourceStore, hub: Hub, peers: [URL], outbound: OutboundGuard, resourcesPerUpstream: Int, logger: Logger
    ) {
        self.store = store
        self.hub = hub
        self.resourcesPerUpstream = resourcesPerUpstream
        self.logger = logger
        servers = RemoteServers(peers: peers, outbound: outbound)
        directory = HomeDirectory(store: store, servers: servers, logger: logger)
        documents = RemoteDocuments(servers: servers)
    }

    /// Starts following the hub's watches.
    func start() {
        hub.setWatchListener { [weak self] filter, _ in self?.watchChanged(filter) }
    }

    func run() async throws {
        try? await gracefulShutdown()
        let all = upstreams.withLock { $0.values.map(\.upstream) }
        for upstream in all { upstream.stop() }
        try await servers.shutdown()
    }

    /// The upstream socket to `origin`, if one is open or opening (for tests and status).
    func upstream(to origin: String) -> Upstream? {
        upstreams.withLock { $0[ByteIdentity(origin)]?.upstream }
    }

    /// The Concrnt resource a filter watches, if it is one of an entity's: a document's value,
    /// or a timeline's members.
    static func resource(watchedBy filter: SubscriptionFilter) -> (ccid: String, uri: String)? {
        let path = filter.path
        guard path.segments.count >= 3, path.segments[0].hasSameBytes(as: ConcrntURI.root) else { return nil }
        switch filter {
        case .value, .children:
            let ccid = path.segments[1]
            guard CCID.isValid(ccid) else { return nil }
            return (ccid, "cc://\(ccid)/" + path.segments.dropFirst(2).joined(separator: "/"))
        case .subtree:
            return nil
        }
    }

    private func watchChanged(_ filter: SubscriptionFilter) {
        guard let (ccid, uri) = Self.resource(watchedBy: filter) else { return }
        guard lookups.add(1, ordering: .relaxed).newValue <= Self.maximumLookups else {
            lookups.subtract(1, ordering: .relaxed)
            logger.warning("too many home lookups at once: a watch is served locally only", metadata: ["resource": "\(uri)"])
            return
        }
        Task {
            defer { lookups.subtract(1, ordering: .relaxed) }
            guard case .remote(let origin) = await directory.home(of: ccid) else { return }
            await update(uri, at: origin, filter: filter)
        }
    }

    /// Sets whether `origin`'s socket carries `uri` from what the hub says now, so watch and
    /// unwatch edges that overtake each other still end in the right state.
    private func update(_ uri: String, at origin: String, filter: SubscriptionFilter) async {
        let watched = hub.isWatched(filter) || hub.isWatched(Self.sibling(of: filter))
        let key = ByteIdentity(origin)
        let change = upstreams.withLock { table -> (Upstream, [String])? in
            if table[key] == nil {
                guard watched, table.count < Self.maximumUpstreams else { return nil }
                let upstream = Upstream(origin: origin, servers: servers, logger: logger) { [weak self] event in
                    await self?.mirror(event, from: origin)
                }
                table[key] = (upstream, [])
            }
            guard var entry = table[key] else { return nil }
            if watched {
                guard entry.resources.count < resourcesPerUpstream || entry.resources.contains(ByteIdentity(uri)) else { return nil }
                entry.resources.insert(ByteIdentity(uri))
            } else {
                entry.resources.remove(ByteIdentity(uri))
            }
            table[key] = entry
            return (entry.upstream, entry.resources.map(\.text).sorted())
        }
        guard let (upstream, list) = change else { return }
        upstream.want(list)
        // A document watched from now on starts from its current state at home.
        if watched, case .value = filter, let resource = try? ConcrntURI(parsing: uri) {
            do {
                if let envelope = try await documents.document(resource, at: origin) {
                    await mirror(UpstreamEvent(deleted: false, envelope: envelope), from: origin)
                }
            } catch {
                logger.notice("a remote document could not be fetched", metadata: ["resource": "\(uri)", "error": "\(error)"])
            }
        }
    }

    /// The other filter that makes the same upstream resource: a document's value and its
    /// members are both `cc://<ccid>/<key>`.
    private static func sibling(of filter: SubscriptionFilter) -> SubscriptionFilter {
        switch filter {
        case .value(let path): (try? ResourcePath(segments: path.segments, isCollection: true)).map(SubscriptionFilter.children) ?? filter
        case .children(let path): (try? ResourcePath(segments: path.segments, isCollection: false)).map(SubscriptionFilter.value) ?? filter
        case .subtree: filter
        }
    }

    /// Commits what another server relayed, once its signature verifies and its author lives
    /// there: a document (unless the same bytes are already here), or a deletion.
    func mirror(_ event: UpstreamEvent, from origin: String) async {
        do {
            let verified = try SignedDocument(json: event.envelope).verify()
            guard let key = verified.key else { return }
            let uri = try ConcrntURI(ccid: verified.author, key: key)
            guard case .remote(let home) = await directory.home(of: verified.author), home.hasSameBytes(as: origin) else {
                logger.notice("a relayed document's author does not live where it came from", metadata: ["resource": "\(uri)", "origin": "\(origin)"])
                return
            }
            documents.forget(uri)
            let mutations: [Mutation]
            if verified.kind == "delete" {
                guard let deletions = try await ConcrntWrites.delete(uri, envelope: event.envelope, store: store, authorize: { _ in }) else { return }
                mutations = deletions
            } else {
                if let stored = try await store.resource(at: try uri.path), let record = try? JSONValue(parsing: stored.value) {
                    // The same signed document, however its envelope was spaced on the way.
                    if case .string(let envelope)? = record["signedDocument"], let held = try? SignedDocument(json: envelope),
                        held.document.hasSameBytes(as: verified.document), ByteIdentity.same(held.signature, verified.signature)
                    {
                        return
                    }
                    // A fetch that started before a relayed replacement must not undo it.
                    if case .string(let text)? = record["createdAt"], let storedAt = Instant.parse(text), storedAt > verified.createdAt { return }
                }
                mutations = try ConcrntWrites.put(verified, envelope: event.envelope, uri: uri).mutations
            }
            _ = try await store.commit(all: mutations)
        } catch {
            logger.notice("a relayed document was not taken", metadata: ["origin": "\(origin)", "error": "\(error)"])
        }
    }
}
