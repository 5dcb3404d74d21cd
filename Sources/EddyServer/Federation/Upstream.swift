import EddyCore
import Foundation
import HummingbirdWSClient
import Logging
import Synchronization

/// One realtime socket to another Concrnt server, driven by `UpstreamStateMachine`. It speaks
/// CIP-7's spec dialect — `{"action":"subscribe","resources":[…]}`, which carries a document's
/// changes and a timeline's members alike — and hands every event's signed document (for a
/// deletion, the delete document), in order and not yet believed, to `relay`.
/// Pings go every 10 s, as the deployed network's servers ping each other.
final class Upstream: Sendable {
    static let maximumMessageBytes = 1 << 20

    let origin: String
    private let servers: RemoteServers
    private let relay: @Sendable (_ envelope: String) async -> Void
    private let logger: Logger
    private let machine = Mutex(UpstreamStateMachine())
    /// The open socket's outgoing messages; only the newest list matters.
    private let outgoing = Mutex<AsyncStream<String>.Continuation?>(nil)

    init(origin: String, servers: RemoteServers, logger: Logger, relay: @escaping @Sendable (_ envelope: String) async -> Void) {
        self.origin = origin
        self.servers = servers
        self.logger = logger
        self.relay = relay
    }

    func want(_ resources: [String]) { perform(machine.withLock { $0.want(resources) }) }

    func stop() { perform(machine.withLock { $0.stop() }) }

    private func perform(_ action: UpstreamStateMachine.Action) {
        switch action {
        case .none:
            break
        case .dial:
            Task { await self.dial() }
        case .send(let resources):
            let message = "{\"action\":\"subscribe\",\"resources\":[" + resources.map(JSONValue.quoted).joined(separator: ",") + "]}"
            outgoing.withLock { _ = $0?.yield(message) }
        case .close:
            // The writer ends, and closes the socket behind it.
            outgoing.withLock { $0?.finish() }
        case .retry(let delay):
            Task {
                try? await Task.sleep(for: delay)
                self.perform(self.machine.withLock { $0.retryDue() })
            }
        case .invalidTransition(let invalid):
            invalid.report()
        }
    }

    private func dial() async {
        do {
            guard let realtime = try await servers.endpoint("net.concrnt.core.realtime", at: origin) else {
                throw RemoteServers.Failure(description: "\(origin) advertises no realtime endpoint")
            }
            try await servers.vet(realtime)
            let configuration = WebSocketClientConfiguration(
                maxFrameSize: Self.maximumMessageBytes, autoPing: .enabled(timePeriod: .seconds(10)), validateUTF8: true)
            try await WebSocketClient.connect(url: LiveEndpoints.webSocketScheme(realtime), configuration: configuration, logger: logger) {
                inbound, outbound, _ in
                let (messages, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(1))
                self.outgoing.withLock { $0 = continuation }
                self.perform(self.machine.withLock { $0.opened() })
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await message in messages { try await outbound.write(.text(message)) }
                        try await outbound.close(.normalClosure, reason: nil)
                    }
                    group.addTask {
                        for try await message in inbound.messages(maxSize: Self.maximumMessageBytes) {
                            if case .text(let text) = message { await self.received(text) }
                        }
                    }
                    try await group.next()
                    group.cancelAll()
                }
            }
        } catch {
            logger.notice("the upstream to another Concrnt server dropped", metadata: ["origin": "\(origin)", "error": "\(error)"])
        }
        outgoing.withLock { continuation in
            continuation?.finish()
            continuation = nil
        }
        perform(machine.withLock { $0.ended() })
    }

    /// A spec-dialect event: `{"event":"created"|"deleted","resource":…,"signed_document":{…}}`.
    private func received(_ text: String) async {
        guard let message = try? JSONValue(parsing: text) else { return }
        guard case .string(let event)? = message["event"], event == "created" || event == "deleted",
            let signed = message["signed_document"], case .object = signed
        else {
            if message["error"] != nil {
                logger.debug("the upstream refused something", metadata: ["origin": "\(origin)", "message": "\(text.prefix(200))"])
            }
            return
        }
        await relay(signed.text)
    }
}
