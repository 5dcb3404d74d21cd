import AsyncHTTPClient
import EddyCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Every open notification channel, by id and by capability token. Persisted in the store;
/// webhook channels are served by delivery workers, the others when their receiver connects.
final class SolidChannels: Service, Sendable {
    private let store: any ResourceStore
    private let access: AccessController
    let outboundGuard: OutboundGuard
    /// By the capability's bytes (see `ByteIdentity`).
    private let byToken = Mutex<[ByteIdentity: SolidChannel]>([:])
    private let workers: DeliveryWorkers
    private let duty: LeasedDuty
    private let sync = RegistrationSync()
    private let logger: Logger
    /// First notifications of webhook channels made here, for the worker to send before any event.
    private let initials = Mutex<[String: OutboundRequest]>([:])

    init(
        store: any ResourceStore, hub: Hub, access: AccessController, outbound: OutboundGuard, policy: DeliveryPolicy, lease: Lease,
        logger: Logger
    ) {
        self.store = store
        self.access = access
        self.outboundGuard = outbound
        self.logger = logger
        workers = DeliveryWorkers(store: store, hub: hub, outbound: outbound, policy: policy, logger: logger)
        duty = LeasedDuty(store: store, name: "deliveries:" + SolidChannel.kind, holder: lease.holder, seconds: lease.seconds, logger: logger)
    }

    /// Webhook channels are served by the one node holding the lease; the other channel types
    /// by whichever node their receiver connects to.
    func run() async throws {
        for stored in try await store.registrations(kind: SolidChannel.kind) {
            guard let channel = await readable(stored) else { continue }
            if channel.hasEnded() {
                _ = try? await store.deleteRegistration(id: channel.id)
                continue
            }
            remember(channel)
        }
        let sync = self.sync
        await cancelWhenGracefulShutdown {
            await self.duty.run {
                await sync.serve(reconcile: { await self.reconcileWebhooks() }, stopAll: { await self.workers.stopAll() })
            }
        }
        try await workers.shutdown()
    }

    private func reconcileWebhooks() async {
        await workers.reconcile(kind: SolidChannel.kind, what: "notification channels") { registration in
            guard let channel = await readable(registration), channel.type == .webhook2023 else { return }
            if channel.hasEnded() {
                _ = try? await delete(id: channel.id)
                return
            }
            startWebhook(channel, cursor: registration.cursor)
        }
    }

    /// The channel a registration holds, or nil after setting an unservable one aside.
    private func readable(_ stored: StoredRegistration) async -> SolidChannel? {
        do {
            return try SolidChannel(stored: stored)
        } catch {
            await Quarantine.setAside(stored, reason: error.description, store: store, logger: logger)
            return nil
        }
    }

    private func remember(_ channel: SolidChannel) {
        byToken.withLock { $0[ByteIdentity(channel.token)] = channel }
        if let endAt = channel.endAt {
            Task { [weak self] in
                try? await Task.sleep(for: .seconds(max(0, endAt.timeIntervalSinceNow)))
                _ = try? await self?.delete(id: channel.id)
            }
        }
    }

    /// `address` is the caller's, which an anonymous channel counts against.
    func create(_ channel: SolidChannel, address: String, limitPerSubject: Int) async throws {
        try await RegistrationQuota.check(
            in: store, kind: SolidChannel.kind, subject: channel.subject, address: address, limit: limitPerSubject, what: "channels")
        let cursor = try await store.headSequence()
        try await store.saveRegistration(
            StoredRegistration(
                id: channel.id, kind: SolidChannel.kind, subject: channel.subject,
                payload: RegistrationQuota.stamp(channel.payload, subject: channel.subject, address: address), cursor: cursor,
                expiresAt: channel.endAt.map { Int64($0.timeIntervalSince1970 * 1000) }))
        remember(channel)
        if channel.type == .webhook2023 {
            if let initial = try await stateNotification(for: channel), let sendTo = channel.sendTo.flatMap(URL.init(string:)) {
                let request = OutboundRequest(url: sendTo, headers: Self.webhookHeaders, body: initial)
                // The holder sends it ahead of the events; elsewhere it goes at once, on its own.
                if sync.isHeld {
                    initials.withLock { $0[channel.id] = request }
                } else {
                    workers.deliverOnce(id: channel.id, request: request)
                }
            }
            sync.poke()
        }
    }

    /// The channel a capability names, while it is open. Another node sharing the store may
    /// have made or deleted it, so the store has the last word.
    func channel(token: String) async -> SolidChannel? {
        var known = byToken.withLock({ $0[ByteIdentity(token)] })
        if known == nil {
            let stored = (try? await store.registrations(kind: SolidChannel.kind)) ?? []
            known = stored.lazy.compactMap { try? SolidChannel(stored: $0) }.first { $0.token.hasSameBytes(as: token) }
            if let known { remember(known) }
        } else if let id = known?.id, (try? await store.registration(id: id)) == nil {
            byToken.withLock { table in table = table.filter { !$0.value.id.hasSameBytes(as: id) } }
            return nil
        }
        guard let channel = known else { return nil }
        if channel.hasEnded() {
            _ = try? await delete(id: channel.id)
            return nil
        }
        return channel
    }

    func channel(id: String) async -> SolidChannel? {
        if let known = byToken.withLock({ $0.values.first { $0.id.hasSameBytes(as: id) } }) { return await channel(token: known.token) }
        guard let stored = try? await store.registration(id: id), let channel = try? SolidChannel(stored: stored) else { return nil }
        return await self.channel(token: channel.token)
    }

    func delete(id: String) async throws -> Bool {
        byToken.withLock { table in table = table.filter { !$0.value.id.hasSameBytes(as: id) } }
        let existed = try await store.deleteRegistration(id: id)
        await workers.stop(id: id)
        return existed
    }

    /// When the client's `state` differs from the topic's: the one notification sent at once.
    func stateNotification(for channel: SolidChannel) async throws -> String? {
        guard let state = channel.state else { return nil }
        let current: String
        if channel.isContainer {
            current = Checkpoint(epoch: store.epoch, sequence: try await store.headSequence()).token
        } else {
            guard let resource = try await store.resource(at: channel.path) else { return nil }
            current = resource.etag.headerValue
        }
        let unquoted = { (tag: String) in tag.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        guard unquoted(current) != unquoted(state) else { return nil }
        return SolidNotification.current(channel: channel, state: current, at: Date())
    }

    private static let webhookHeaders = [("Content-Type", "application/ld+json")]

    private func startWebhook(_ channel: SolidChannel, cursor: SequenceNumber) {
        guard let sendTo = channel.sendTo.flatMap(URL.init(string:)) else { return }
        let identity = Identity(subject: channel.subject)
        let access = self.access
        let epoch = store.epoch
        let headers = Self.webhookHeaders
        let route = DeliveryWorker.Route(
            filter: channel.filter,
            mayDeliver: { path in access.allows(identity, to: .read, at: path) && !channel.hasEnded() && (channel.startAt.map { Date() >= $0 } ?? true) },
            request: { event, _ in
                SolidNotification.make(for: event, channel: channel, epoch: epoch).map { OutboundRequest(url: sendTo, headers: headers, body: $0) }
            },
            minimumInterval: channel.rate)
        workers.start(id: channel.id, route: route, from: cursor, initial: initials.withLock { $0.removeValue(forKey: channel.id) })
    }
}
