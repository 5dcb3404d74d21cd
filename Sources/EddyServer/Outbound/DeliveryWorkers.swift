import AsyncHTTPClient
import EddyCore
import Logging
import Synchronization

/// The delivery workers of one feature (LiveResource webhooks, Solid webhook channels), with
/// the HTTP client they share.
final class DeliveryWorkers: Sendable {
    private let store: any ResourceStore
    private let hub: Hub
    private let outbound: OutboundGuard
    private let policy: DeliveryPolicy
    private let logger: Logger
    private let client: HTTPClient
    /// By registration id, whose bytes name it: a webhook's id holds a client-given path.
    private let workers = Mutex<[ByteIdentity: DeliveryWorker]>([:])

    init(store: any ResourceStore, hub: Hub, outbound: OutboundGuard, policy: DeliveryPolicy, logger: Logger) {
        self.store = store
        self.hub = hub
        self.outbound = outbound
        self.policy = policy
        self.logger = logger
        var configuration = HTTPClient.Configuration()
        // A redirect could lead a delivery past the outbound guard to an internal address.
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(Int64(policy.timeoutSeconds)))
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func start(id: String, route: DeliveryWorker.Route, from cursor: SequenceNumber, initial: OutboundRequest? = nil) {
        let worker = DeliveryWorker(
            registrationID: id, route: route, store: store, hub: hub, client: client, outbound: outbound, policy: policy, logger: logger)
        workers.withLock { $0[ByteIdentity(id)] = worker }
        worker.start(from: cursor, initial: initial)
    }

    func stop(id: String) async {
        await workers.withLock { $0.removeValue(forKey: ByteIdentity(id)) }?.stop()
    }

    /// The registrations served right now.
    var ids: Set<ByteIdentity> { workers.withLock { Set($0.keys) } }

    /// Stops every worker after its delivery in flight (the lease that let them run is gone).
    func stopAll() async {
        let stopping = workers.withLock { table in
            let all = Array(table.values)
            table.removeAll()
            return all
        }
        for worker in stopping { await worker.stop() }
    }

    /// Sends one request outside any worker's order (a channel's first notification, made by
    /// the node that created the channel).
    func deliverOnce(id: String, request: OutboundRequest) {
        let worker = DeliveryWorker(
            registrationID: id, route: .init(filter: .value(.root), mayDeliver: { _ in false }, request: { _, _ in nil }), store: store, hub: hub,
            client: client, outbound: outbound, policy: policy, logger: logger)
        worker.deliverOnly(request)
    }

    /// Stops every worker after its delivery in flight, then the client.
    func shutdown() async throws {
        await stopAll()
        try await client.shutdown()
    }
}
