import EddyCore
import Foundation
import Logging
import ServiceLifecycle

/// LiveResource callbacks: what a registration holds and how an event becomes its request; the
/// keeping and delivering is `LeasedRegistrations`'. A service, so that its workers start with
/// the server and stop with it.
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

    /// Why a stored payload is not a webhook registration.
    struct Unreadable: Error, CustomStringConvertible {
        var description: String { "the payload is not a webhook registration" }
    }

    private let registrations: LeasedRegistrations<Registration>

    init(
        store: any ResourceStore, hub: Hub, access: AccessController, outbound: OutboundGuard, policy: DeliveryPolicy, lease: Lease,
        logger: Logger
    ) {
        let epoch = store.epoch
        let kind = RegistrationKind<Registration>(
            name: Self.kind, noun: "webhook registrations",
            read: { stored in
                guard let registration = Registration(payload: stored.payload) else { throw Unreadable() }
                return registration
            },
            route: { registration, stored in
                let identity = Identity(subject: stored.subject)
                return DeliveryWorker.Route(
                    filter: registration.mode == .value ? .value(registration.path) : .children(registration.path),
                    mayDeliver: { path in access.allows(identity, to: .read, at: path) },
                    request: { event, previous in Self.request(for: event, previous: previous, registration: registration, epoch: epoch) })
            },
            token: { _ in nil })
        registrations = LeasedRegistrations(kind: kind, store: store, hub: hub, outbound: outbound, policy: policy, lease: lease, logger: logger)
    }

    func run() async throws {
        try await registrations.run()
    }

    /// `address` is the caller's, which an anonymous registration counts against.
    func register(_ registration: Registration, subject: String?, address: String, limitPerSubject: Int) async throws -> Bool {
        try await registrations.register(
            id: registration.id, subject: subject, payload: registration.payload, address: address, limitPerSubject: limitPerSubject,
            what: "callbacks")
    }

    func unregister(id: String) async throws -> Bool {
        try await registrations.unregister(id: id)
    }

    func registrations(at path: ResourcePath, mode: Mode) async throws -> [(Registration, String?)] {
        try await registrations.all().compactMap { registration, stored in
            registration.path == path && registration.mode == mode ? (registration, stored.subject) : nil
        }
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
