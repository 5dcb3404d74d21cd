import EddyCore
import Foundation
import Logging
import ServiceLifecycle

/// Every open notification channel, kept by `LeasedRegistrations` and found by id or by its
/// capability token; webhook channels are served by delivery workers, the others when their
/// receiver connects.
final class SolidChannels: Service, Sendable {
    private let store: any ResourceStore
    let outboundGuard: OutboundGuard
    private let registrations: LeasedRegistrations<SolidChannel>

    init(
        store: any ResourceStore, hub: Hub, access: AccessController, outbound: OutboundGuard, policy: DeliveryPolicy, lease: Lease,
        logger: Logger
    ) {
        self.store = store
        self.outboundGuard = outbound
        let epoch = store.epoch
        let kind = RegistrationKind<SolidChannel>(
            name: SolidChannel.kind, noun: "notification channels",
            read: { stored in try SolidChannel(stored: stored) },
            route: { channel, _ in Self.webhookRoute(channel, access: access, epoch: epoch) },
            token: { channel in channel.token })
        registrations = LeasedRegistrations(kind: kind, store: store, hub: hub, outbound: outbound, policy: policy, lease: lease, logger: logger)
    }

    func run() async throws {
        try await registrations.run()
    }

    /// `address` is the caller's, which an anonymous channel counts against.
    func create(_ channel: SolidChannel, address: String, limitPerSubject: Int) async throws {
        var initial: OutboundRequest?
        if channel.type == .webhook2023, let sendTo = channel.sendTo.flatMap(URL.init(string:)) {
            initial = try await stateNotification(for: channel).map { OutboundRequest(url: sendTo, headers: Self.webhookHeaders, body: $0) }
        }
        _ = try await registrations.register(
            id: channel.id, subject: channel.subject, payload: channel.payload,
            expiresAt: channel.endAt.map { Int64($0.timeIntervalSince1970 * 1000) }, token: channel.token, initial: initial,
            address: address, limitPerSubject: limitPerSubject, what: "channels")
    }

    /// The channel a capability names, while it is open.
    func channel(token: String) async -> SolidChannel? {
        await open(try? await registrations.registration(token: token))
    }

    func channel(id: String) async -> SolidChannel? {
        await open(try? await registrations.registration(id: id))
    }

    func delete(id: String) async throws -> Bool {
        try await registrations.unregister(id: id)
    }

    /// A channel past its `endAt` is deleted on sight (its stored expiry may round below it).
    private func open(_ found: (SolidChannel, StoredRegistration)?) async -> SolidChannel? {
        guard let (channel, _) = found else { return nil }
        if channel.hasEnded() {
            _ = try? await delete(id: channel.id)
            return nil
        }
        return channel
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

    /// Webhook channels are delivered by the lease holder's workers; the other types have no route.
    private static func webhookRoute(_ channel: SolidChannel, access: AccessController, epoch: String) -> DeliveryWorker.Route? {
        guard channel.type == .webhook2023, let sendTo = channel.sendTo.flatMap(URL.init(string:)) else { return nil }
        let identity = Identity(subject: channel.subject)
        let headers = webhookHeaders
        return DeliveryWorker.Route(
            filter: channel.filter,
            mayDeliver: { path in access.allows(identity, to: .read, at: path) && !channel.hasEnded() && (channel.startAt.map { Date() >= $0 } ?? true) },
            request: { event, _ in
                SolidNotification.make(for: event, channel: channel, epoch: epoch).map { OutboundRequest(url: sendTo, headers: headers, body: $0) }
            },
            minimumInterval: channel.rate)
    }
}
