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
///
/// With several nodes, each node keeps what its own subscribers watch in the store (a
/// registration that expires unless refreshed), and the one node holding the
/// `concrnt-upstreams` lease holds every upstream socket, for the union of them; what it
/// relays reaches the other nodes through the log.
final class Federation: Service, Sendable {
    static let maximumUpstreams = 64
    /// Home lookups running at once; a watch beyond it is served locally only.
    static let maximumLookups = 16
    static let interestKind = "concrnt-interest"

    let servers: RemoteServers
    let directory: HomeDirectory
    let documents: RemoteDocuments
    private let store: any ResourceStore
    private let hub: Hub
    private let resourcesPerUpstream: Int
    private let lease: Lease
    private let logger: Logger
    /// What this node's subscribers watch: by origin, the resources.
    private let interest = Mutex<[ByteIdentity: Set<ByteIdentity>]>([:])
    private let interestChanged: AsyncStream<Void>.Continuation
    private let interestChanges: AsyncStream<Void>
    /// The holder's sockets, by origin.
    private let upstreams = Mutex<[ByteIdentity: Upstream]>([:])
    private let sync = RegistrationSync()
    private let duty: LeasedDuty
    private let lookups = Atomic<Int>(0)

    init(
        store: any ResourceStore, hub: Hub, peers: [URL], outbound: OutboundGuard, resourcesPerUpstream: Int, lease: Lease, logger: Logger
    ) {
        self.store = store
        self.hub = hub
        self.resourcesPerUpstream = resourcesPerUpstream
        self.lease = lease
        self.logger = logger
        servers = RemoteServers(peers: peers, outbound: outbound)
        directory = HomeDirectory(store: store, servers: servers, logger: logger)
        documents = RemoteDocuments(servers: servers)
        (interestChanges, interestChanged) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        duty = LeasedDuty(store: store, name: "concrnt-upstreams", holder: lease.holder, seconds: lease.seconds, logger: logger)
    }

    /// Starts following the hub's watches.
    func start() {
        hub.setWatchListener { [weak self] filter, _ in self?.watchChanged(filter) }
    }

    func run() async throws {
        let sync = self.sync
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.keepInterest() }
                group.addTask {
                    await self.duty.run {
                        await sync.serve(reconcile: { await self.reconcile() }, stopAll: { self.stopAll() })
                    }
                }
                await group.waitForAll()
            }
        }
        stopAll()
        _ = try? await store.deleteRegistration(id: interestID)
        try await servers.shutdown()
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

    /// Sets whether this node watches `uri` at `origin` from what the hub says now, so watch
    /// and unwatch edges that overtake each other still end in the right state.
    private func update(_ uri: String, at origin: String, filter: SubscriptionFilter) async {
        let key = ByteIdentity(origin)
        // Read under the interest lock (the hub never takes it), so updates apply in the order
        // they read the hub, and the last one applied saw the latest state.
        let (watched, changed) = interest.withLock { interest -> (Bool, Bool) in
            let watched = hub.isWatched(filter) || hub.isWatched(Self.sibling(of: filter))
            var resources = interest[key] ?? []
            if watched {
                guard interest[key] != nil || interest.count < Self.maximumUpstreams else { return (watched, false) }
                guard resources.count < resourcesPerUpstream else { return (watched, false) }
                guard resources.insert(ByteIdentity(uri)).inserted else { return (watched, false) }
            } else {
                guard resources.remove(ByteIdentity(uri)) != nil else { return (watched, false) }
            }
            interest[key] = resources.isEmpty ? nil : resources
            return (watched, true)
        }
        if changed { interestChanged.yield() }
        // A document watched from now on starts from its current state at home.
        if watched, case .value = filter, let resource = try? ConcrntURI(parsing: uri) {
            do {
                if let envelope = try await documents.document(resource, at: origin) {
                    await mirror(envelope, from: origin)
                }
            } catch {
                logger.notice("a remote document could not be fetched", metadata: ["resource": "\(uri)", "error": "\(error)"])
            }
        }
    }

    // MARK: Sharing what is watched

    private var interestID: String { Self.interestKind + ":" + lease.holder }

    /// Keeps this node's watches in the store: at once after each change, and again at a third
    /// of their lifetime so they do not expire while this node lives.
    private func keepInterest() async {
        let changed = interestChanged
        let refresh = max(1, lease.seconds)
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(refresh))
                changed.yield()
            }
        }
        defer { ticker.cancel() }
        for await _ in interestChanges {
            guard !Task.isCancelled else { break }
            await saveInterest()
            // The holder re-reads at once if it is this node, else within its tick.
            sync.poke()
        }
    }

    /// A node's stored watches live this long unless refreshed (every `lease.seconds`).
    private var interestLifetime: Double { max(10, lease.seconds * 3) }

    private func saveInterest() async {
        let snapshot = interest.withLock { $0 }
        do {
            guard !snapshot.isEmpty else {
                _ = try await store.deleteRegistration(id: interestID)
                return
            }
            let origins = snapshot.map { origin, resources in
                JSONValue.quoted(origin.text) + ":[" + resources.map { JSONValue.quoted($0.text) }.sorted().joined(separator: ",") + "]"
            }
            try await store.saveRegistration(
                StoredRegistration(
                    id: interestID, kind: Self.interestKind, subject: nil, payload: "{\"origins\":{" + origins.joined(separator: ",") + "}}",
                    cursor: 0, expiresAt: Int64((Date().timeIntervalSince1970 + interestLifetime) * 1000)))
        } catch {
            logger.warning("what this node watches elsewhere could not be stored", metadata: ["error": "\(error)"])
        }
    }

    /// On the lease holder: every node's watches, unexpired, as one list per origin, each
    /// carried by one socket; sockets nobody needs are closed.
    private func reconcile() async {
        guard let records = try? await store.registrations(kind: Self.interestKind) else { return }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var wanted: [ByteIdentity: Set<ByteIdentity>] = [:]
        for record in records {
            if let expiresAt = record.expiresAt, expiresAt < now {
                _ = try? await store.deleteRegistration(id: record.id)
                continue
            }
            guard case .object(let origins)? = (try? JSONValue(parsing: record.payload))?["origins"] else {
                logger.notice("a node's stored watches do not parse; set aside until they expire", metadata: ["id": "\(record.id)"])
                continue
            }
            for member in origins.members {
                guard case .array(let uris) = member.value else { continue }
                let origin = ByteIdentity(member.name)
                guard wanted[origin] != nil || wanted.count < Self.maximumUpstreams else { continue }
                for case .string(let uri) in uris where (wanted[origin]?.count ?? 0) < resourcesPerUpstream {
                    wanted[origin, default: []].insert(ByteIdentity(uri))
                }
            }
        }
        let changes = upstreams.withLock { table -> [(Upstream, [String])] in
            var changes: [(Upstream, [String])] = []
            for (origin, resources) in wanted {
                let upstream =
                    table[origin]
                    ?? Upstream(origin: origin.text, servers: servers, logger: logger) { [weak self] envelope in
                        await self?.mirror(envelope, from: origin.text)
                    }
                table[origin] = upstream
                changes.append((upstream, resources.map(\.text).sorted()))
            }
            for (origin, upstream) in table where wanted[origin] == nil {
                table.removeValue(forKey: origin)
                changes.append((upstream, []))
            }
            return changes
        }
        for (upstream, resources) in changes { upstream.want(resources) }
    }

    private func stopAll() {
        let all = upstreams.withLock { table in
            defer { table.removeAll() }
            return Array(table.values)
        }
        for upstream in all { upstream.stop() }
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

    /// Whether `origin` may relay the document: its author lives there, or it is (or, for a
    /// deletion, was) posted to a collection whose owner lives there — another entity's post
    /// on a timeline comes from the timeline's home. Only homes already known count: the
    /// upstream exists because they are.
    private func mayRelay(_ verified: VerifiedDocument, uri: ConcrntURI, from origin: String) async throws -> Bool {
        func livesThere(_ ccid: String) async -> Bool {
            guard case .remote(let home) = await directory.home(of: ccid, askingPeers: false) else { return false }
            return home.hasSameBytes(as: origin)
        }
        if await livesThere(verified.author) { return true }
        var collections = verified.memberOf
        if verified.kind == "delete", let stored = try await store.resource(at: try uri.path),
            case .array(let held)? = (try? JSONValue(parsing: stored.value))?["memberOf"]
        {
            for case .string(let collection) in held { collections.append(collection) }
        }
        for collection in collections {
            if let owner = try? ConcrntURI(parsing: collection), await livesThere(owner.ccid) { return true }
        }
        return false
    }

    /// Commits what another server relayed, once its signature verifies and `mayRelay` holds:
    /// a document (unless the same signed document, or a newer one, is already here), or a
    /// deletion.
    func mirror(_ envelope: String, from origin: String) async {
        do {
            let verified = try SignedDocument(json: envelope).verify()
            guard let key = verified.key else { return }
            let uri = try ConcrntURI(ccid: verified.author, key: key)
            guard try await mayRelay(verified, uri: uri, from: origin) else {
                logger.notice("a relayed document neither lives nor is posted where it came from", metadata: ["resource": "\(uri)", "origin": "\(origin)"])
                return
            }
            documents.forget(uri)
            let mutations: [Mutation]
            if verified.kind == "delete" {
                guard let deletions = try await ConcrntWrites.delete(uri, envelope: envelope, store: store, authorize: { _ in }) else { return }
                mutations = deletions
            } else {
                if let stored = try await store.resource(at: try uri.path), let record = try? JSONValue(parsing: stored.value) {
                    // The same signed document, however its envelope was spaced on the way.
                    if case .string(let stored)? = record["signedDocument"], let held = try? SignedDocument(json: stored),
                        held.document.hasSameBytes(as: verified.document), ByteIdentity.same(held.signature, verified.signature)
                    {
                        return
                    }
                    // A fetch that started before a relayed replacement must not undo it.
                    if case .string(let text)? = record["createdAt"], let storedAt = Instant.parse(text), storedAt > verified.createdAt { return }
                }
                mutations = try ConcrntWrites.put(verified, envelope: envelope, uri: uri).mutations
            }
            _ = try await store.commit(all: mutations)
            await directory.learn(from: verified, ownHost: nil)
        } catch {
            logger.notice("a relayed document was not taken", metadata: ["origin": "\(origin)", "error": "\(error)"])
        }
    }
}
