import AsyncHTTPClient
import EddyCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// LiveResource callbacks: registrations persisted in the store, each served by its own
/// `DeliveryWorker`. Runs as a service so workers start with the server and stop with it.
final class Webhooks: Service, Sendable {
    static let kind = "lr-webhook"

    enum Mode: String, Sendable {
        case value, changes
    }

    struct Registration: Sendable {
        let mode: Mode
        let path: ResourcePath
        let callback: URL
        /// The base URL the registering client reached the server by: the `Location` of each delivery.
        let base: String

        var id: String { "\(mode.rawValue) \(path) \(callback.absoluteString)" }

        var payload: String {
            "{\"mode\":\(JSONValue.quoted(mode.rawValue)),\"path\":\(JSONValue.quoted(path.description)),"
                + "\"callback\":\(JSONValue.quoted(callback.absoluteString)),\"base\":\(JSONValue.quoted(base))}"
        }

        init(mode: Mode, path: ResourcePath, callback: URL, base: String) {
            self.mode = mode
            self.path = path
            self.callback = callback
            self.base = base
        }

        init?(payload: String) {
            guard let json = try? JSONValue(parsing: payload),
                case .string(let mode)? = json["mode"], let parsedMode = Mode(rawValue: mode),
                case .string(let path)? = json["path"], let parsedPath = try? ResourcePath(decoded: path),
                case .string(let callback)? = json["callback"], let url = URL(string: callback),
                case .string(let base)? = json["base"]
            else { return nil }
            self.init(mode: parsedMode, path: parsedPath, callback: url, base: base)
        }
    }

    private let store: any ResourceStore
    private let access: AccessController
    private let logger: Logger
    private let workers: DeliveryWorkers
    private let duty: LeasedDuty
    private let sync = RegistrationSync()

    init(
        store: any ResourceStore, hub: Hub, access: AccessController, outbound: OutboundGuard, policy: DeliveryPolicy, lease: Lease,
        logger: Logger
    ) {
        self.store = store
        self.access = access
        self.logger = logger
        workers = DeliveryWorkers(store: store, hub: hub, outbound: outbound, policy: policy, logger: logger)
        duty = LeasedDuty(store: store, name: "deliveries:" + Self.kind, holder: lease.holder, seconds: lease.seconds, logger: logger)
    }

    /// Deliveries run on the one node holding the lease, so each is made once however many
    /// nodes share the store.
    func run() async throws {
        let sync = self.sync
        await cancelWhenGracefulShutdown {
            await self.duty.run {
                await sync.serve(reconcile: { await self.reconcile() }, stopAll: { await self.workers.stopAll() })
            }
        }
        try await workers.shutdown()
    }

    /// Starts a worker for each stored registration without one, stops those whose registration is gone.
    private func reconcile() async {
        await workers.reconcile(kind: Self.kind, what: "webhook registrations") { registration in
            guard let parsed = Registration(payload: registration.payload) else {
                await Quarantine.setAside(registration, reason: "the payload is not a webhook registration", store: store, logger: logger)
                return
            }
            startWorker(for: parsed, subject: registration.subject, cursor: registration.cursor)
        }
    }

    /// `address` is the caller's, which an anonymous registration counts against.
    func register(_ registration: Registration, subject: String?, address: String, limitPerSubject: Int) async throws -> Bool {
        let existing = try await store.registration(id: registration.id)
        if existing == nil {
            try await RegistrationQuota.check(
                in: store, kind: Self.kind, subject: subject, address: address, limit: limitPerSubject, what: "callbacks")
        }
        let cursor: SequenceNumber
        if let existing { cursor = existing.cursor } else { cursor = try await store.headSequence() }
        try await store.saveRegistration(
            StoredRegistration(
                id: registration.id, kind: Self.kind, subject: subject,
                payload: RegistrationQuota.stamp(registration.payload, subject: subject, address: address), cursor: cursor))
        if existing == nil { sync.poke() }
        return existing == nil
    }

    func unregister(id: String) async throws -> Bool {
        let existed = try await store.deleteRegistration(id: id)
        await workers.stop(id: id)
        return existed
    }

    func registrations(at path: ResourcePath, mode: Mode) async throws -> [(Registration, String?)] {
        try await store.registrations(kind: Self.kind).compactMap { stored in
            guard let registration = Registration(payload: stored.payload), registration.path == path, registration.mode == mode
            else { return nil }
            return (registration, stored.subject)
        }
    }

    private func startWorker(for registration: Registration, subject: String?, cursor: SequenceNumber) {
        let identity = Identity(subject: subject)
        let access = self.access
        let epoch = store.epoch
        let route = DeliveryWorker.Route(
            filter: registration.mode == .value ? .value(registration.path) : .children(registration.path),
            mayDeliver: { path in access.allows(identity, to: .read, at: path) },
            request: { event, previous in Self.request(for: event, previous: previous, registration: registration, epoch: epoch) })
        workers.start(id: registration.id, route: route, from: cursor)
    }

    /// Objects get their whole value (empty when deleted); collections the changes body with
    /// `changes` and `prev-changes` links, so a receiver can tell when it missed one.
    static func request(for event: ChangeEvent, previous: SequenceNumber, registration: Registration, epoch: String) -> OutboundRequest {
        var headers = [("Location", registration.base + registration.path.encoded)]
        switch registration.mode {
        case .value:
            if event.value != nil { headers.append(("Content-Type", "application/json")) }
            return OutboundRequest(url: registration.callback, headers: headers, body: event.value ?? "")
        case .changes:
            headers.append(("Content-Type", "application/json"))
            let next = Checkpoint(epoch: epoch, sequence: event.sequence)
            let prev = Checkpoint(epoch: epoch, sequence: previous)
            headers.append(("Link", "<\(LiveEndpoints.changesURI(registration.base, registration.path, after: next, max: nil))>; rel=\"changes\""))
            headers.append(("Link", "<\(LiveEndpoints.changesURI(registration.base, registration.path, after: prev, max: nil))>; rel=\"prev-changes\""))
            return OutboundRequest(url: registration.callback, headers: headers, body: ChangesFeed.body([event]))
        }
    }
}
