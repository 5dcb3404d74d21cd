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
    private let byToken = Mutex<[String: SolidChannel]>([:])
    private let workers: DeliveryWorkers

    init(store: any ResourceStore, hub: Hub, access: AccessController, outbound: OutboundGuard, policy: DeliveryPolicy, logger: Logger) {
        self.store = store
        self.access = access
        self.outboundGuard = outbound
        workers = DeliveryWorkers(store: store, hub: hub, outbound: outbound, policy: policy, logger: logger)
    }

    func run() async throws {
        for stored in try await store.registrations(kind: SolidChannel.kind) {
            guard let channel = SolidChannel(stored: stored) else { continue }
            if channel.hasEnded() {
                _ = try? await store.deleteRegistration(id: channel.id)
                continue
            }
            byToken.withLock { $0[channel.token] = channel }
            if channel.type == .webhook2023 { startWebhook(channel, cursor: stored.cursor, initial: nil) }
        }
        try? await gracefulShutdown()
        try await workers.shutdown()
    }

    func create(_ channel: SolidChannel, limitPerSubject: Int) async throws {
        let mine = try await store.registrations(kind: SolidChannel.kind).filter { $0.subject == channel.subject }.count
        guard mine < limitPerSubject else {
            throw Problem(.tooManyRequests, "too-many-registrations", "at most \(limitPerSubject) channels per subject; delete one first")
        }
        let cursor = try await store.headSequence()
        try await store.saveRegistration(
            StoredRegistration(
                id: channel.id, kind: SolidChannel.kind, subject: channel.subject, payload: channel.payload, cursor: cursor,
                expiresAt: channel.endAt.map { Int64($0.timeIntervalSince1970 * 1000) }))
        byToken.withLock { $0[channel.token] = channel }
        if channel.type == .webhook2023 {
            let initial = try await stateNotification(for: channel)
            startWebhook(channel, cursor: cursor, initial: initial)
        }
    }

    /// The channel a capability names, while it is open.
    func channel(token: String) async -> SolidChannel? {
        guard let channel = byToken.withLock({ $0[token] }) else { return nil }
        if channel.hasEnded() {
            _ = try? await delete(id: channel.id)
            return nil
        }
        return channel
    }

    func channel(id: String) -> SolidChannel? {
        byToken.withLock { $0.values.first { $0.id == id } }
    }

    func delete(id: String) async throws -> Bool {
        byToken.withLock { table in table = table.filter { $0.value.id != id } }
        await workers.stop(id: id)
        return try await store.deleteRegistration(id: id)
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

    private func startWebhook(_ channel: SolidChannel, cursor: SequenceNumber, initial: String?) {
        guard let sendTo = channel.sendTo.flatMap(URL.init(string:)) else { return }
        let identity = Identity(subject: channel.subject)
        let access = self.access
        let epoch = store.epoch
        let headers = [("Content-Type", "application/ld+json")]
        let route = DeliveryWorker.Route(
            filter: channel.filter,
            mayDeliver: { path in access.allows(identity, to: .read, at: path) && !channel.hasEnded() && (channel.startAt.map { Date() >= $0 } ?? true) },
            request: { event, _ in
                SolidNotification.make(for: event, channel: channel, epoch: epoch).map { OutboundRequest(url: sendTo, headers: headers, body: $0) }
            },
            minimumInterval: channel.rateSeconds)
        workers.start(id: channel.id, route: route, from: cursor, initial: initial.map { OutboundRequest(url: sendTo, headers: headers, body: $0) })
        if let endAt = channel.endAt {
            Task { [weak self] in
                try? await Task.sleep(for: .seconds(max(0, endAt.timeIntervalSinceNow)))
                _ = try? await self?.delete(id: channel.id)
            }
        }
    }
}
