import EddyCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// What a feature keeping registrations (LiveResource webhooks, Solid notification channels)
/// tells `LeasedRegistrations` about them; everything else is the same for every feature.
struct RegistrationKind<Registration: Sendable>: Sendable {
    /// Their kind in the store.
    let name: String
    /// What they are called in the log.
    let noun: String
    /// Reads a stored registration back; a thrown reason sets it aside (see `Quarantine`).
    let read: @Sendable (StoredRegistration) throws -> Registration
    /// How a registration's events are delivered, or nil when no worker serves it (a channel
    /// whose receiver connects to the server instead).
    let route: @Sendable (Registration, StoredRegistration) -> DeliveryWorker.Route?
    /// The capability naming it, which the store indexes; nil when it has none.
    let token: @Sendable (Registration) -> String?
}

/// One feature's registrations: kept in the store under one kind, read back strictly and set
/// aside when they cannot be served, ended when they expire, counted against their owner's
/// quota, found by id or by token, and delivered by workers on the one node holding the
/// feature's lease (so each delivery is made once however many nodes share the store).
final class LeasedRegistrations<Registration: Sendable>: Sendable {
    let kind: RegistrationKind<Registration>
    private let store: any ResourceStore
    private let logger: Logger
    private let workers: DeliveryWorkers
    private let duty: LeasedDuty
    private let sync = RegistrationSync()
    /// Registrations read once and found to need no worker, so the holder's tick does not read them again.
    private let unserved = Mutex<Set<ByteIdentity>>([])
    /// First deliveries of registrations made on this node, for their worker to send before any event.
    private let initials = Mutex<[ByteIdentity: OutboundRequest]>([:])

    init(kind: RegistrationKind<Registration>, store: any ResourceStore, hub: Hub, outbound: OutboundGuard, policy: DeliveryPolicy, lease: Lease, logger: Logger) {
        self.kind = kind
        self.store = store
        self.logger = logger
        workers = DeliveryWorkers(store: store, hub: hub, outbound: outbound, policy: policy, logger: logger)
        duty = LeasedDuty(store: store, name: "deliveries:" + kind.name, holder: lease.holder, seconds: lease.seconds, logger: logger)
    }

    /// Every node checks the stored registrations once; then the lease holder serves them
    /// until shutdown.
    func run() async throws {
        await sweep()
        let sync = self.sync
        await cancelWhenGracefulShutdown {
            await self.duty.run {
                await sync.serve(reconcile: { await self.reconcile() }, stopAll: { await self.workers.stopAll() })
            }
        }
        try await workers.shutdown()
    }

    /// Stores a registration, or replaces the one with its id (keeping its cursor and its place
    /// in the quota); returns whether it is new. `address` is the caller's, which an anonymous
    /// registration counts against. `initial` goes out before any event.
    func register(
        id: String, subject: String?, payload: String, expiresAt: Int64? = nil, token: String? = nil, initial: OutboundRequest? = nil,
        address: String, limitPerSubject: Int, what: String
    ) async throws -> Bool {
        let existing = try await store.registration(id: id).flatMap { $0.kind.hasSameBytes(as: kind.name) ? $0 : nil }
        if existing == nil {
            try await RegistrationQuota.check(in: store, kind: kind.name, subject: subject, address: address, limit: limitPerSubject, what: what)
        }
        let cursor: SequenceNumber
        if let existing { cursor = existing.cursor } else { cursor = try await store.headSequence() }
        try await store.saveRegistration(
            StoredRegistration(
                id: id, kind: kind.name, subject: subject, payload: RegistrationQuota.stamp(payload, subject: subject, address: address),
                cursor: cursor, expiresAt: expiresAt, token: token))
        guard existing == nil else { return false }
        if let initial {
            // The holder sends it ahead of the events; elsewhere it goes at once, on its own.
            if sync.isHeld {
                initials.withLock { $0[ByteIdentity(id)] = initial }
            } else {
                workers.deliverOnce(id: id, request: initial)
            }
        }
        sync.poke()
        return true
    }

    func unregister(id: String) async throws -> Bool {
        let existed = try await store.deleteRegistration(id: id)
        await workers.stop(id: id)
        return existed
    }

    /// The registration with this id while it lasts. Another node sharing the store may have
    /// made or deleted it, so the store has the last word.
    func registration(id: String) async throws -> (Registration, StoredRegistration)? {
        try await live(store.registration(id: id))
    }

    /// The registration a capability names while it lasts: one indexed lookup by the token's bytes.
    func registration(token: String) async throws -> (Registration, StoredRegistration)? {
        try await live(store.registration(token: token))
    }

    /// Every readable registration of the kind.
    func all() async throws -> [(Registration, StoredRegistration)] {
        try await store.registrations(kind: kind.name).compactMap { stored in (try? kind.read(stored)).map { ($0, stored) } }
    }

    static func hasExpired(_ stored: StoredRegistration, at now: Date = Date()) -> Bool {
        guard let expiresAt = stored.expiresAt else { return false }
        return Double(expiresAt) <= now.timeIntervalSince1970 * 1000
    }

    private func live(_ stored: StoredRegistration?) async throws -> (Registration, StoredRegistration)? {
        guard let stored, stored.kind.hasSameBytes(as: kind.name), let registration = try? kind.read(stored) else { return nil }
        if Self.hasExpired(stored) {
            _ = try await unregister(id: stored.id)
            return nil
        }
        return (registration, stored)
    }

    /// At start: sets aside what cannot be served, ends what expired while the server was
    /// down, and gives registrations stored before tokens were indexed their token.
    private func sweep() async {
        let stored: [StoredRegistration]
        do { stored = try await store.registrations(kind: kind.name) } catch {
            logger.error("cannot read \(kind.noun)", metadata: ["error": "\(error)"])
            return
        }
        for registration in stored {
            if Self.hasExpired(registration) {
                _ = try? await store.deleteRegistration(id: registration.id)
                continue
            }
            guard let parsed = await readable(registration) else { continue }
            if registration.token == nil, let token = kind.token(parsed) {
                do {
                    try await store.saveRegistration(
                        StoredRegistration(
                            id: registration.id, kind: registration.kind, subject: registration.subject, payload: registration.payload,
                            cursor: registration.cursor, expiresAt: registration.expiresAt, token: token))
                } catch {
                    logger.error("cannot index a registration's token", metadata: ["id": "\(registration.id)", "error": "\(error)"])
                }
            }
        }
    }

    /// Brings the workers in line with the stored registrations (other nodes add and remove
    /// them): stops the workers whose registration is gone or expired, starts the missing ones.
    private func reconcile() async {
        let stored: [StoredRegistration]
        do { stored = try await store.registrations(kind: kind.name) } catch {
            if Task.isCancelled { return }
            logger.error("cannot read \(kind.noun)", metadata: ["error": "\(error)"])
            return
        }
        let present = Set(stored.map { ByteIdentity($0.id) })
        let running = workers.ids
        for gone in running.subtracting(present) { await workers.stop(id: gone.text) }
        unserved.withLock { $0.formIntersection(present) }
        let now = Date()
        for registration in stored {
            if Task.isCancelled { return }
            let id = ByteIdentity(registration.id)
            if Self.hasExpired(registration, at: now) {
                _ = try? await unregister(id: registration.id)
                continue
            }
            if running.contains(id) || unserved.withLock({ $0.contains(id) }) { continue }
            guard let parsed = await readable(registration) else { continue }
            guard let route = kind.route(parsed, registration) else {
                unserved.withLock { _ = $0.insert(id) }
                continue
            }
            workers.start(id: registration.id, route: route, from: registration.cursor, initial: initials.withLock { $0.removeValue(forKey: id) })
        }
    }

    /// The registration a stored one holds, or nil after setting an unservable one aside.
    private func readable(_ stored: StoredRegistration) async -> Registration? {
        do {
            return try kind.read(stored)
        } catch {
            await Quarantine.setAside(stored, reason: "\(error)", store: store, logger: logger)
            return nil
        }
    }
}
