import EddyCore
import HTTPTypes
import HummingbirdWSClient
import Logging
import Synchronization

/// The `liveresource` multiplex WebSocket: one subscription for this resource. With a position
/// to resume from, the subscription carries it as `after` (an Eddy extension: the server first
/// replays the logged changes since, or answers a 404 error when it no longer holds them).
struct WebSocketTransport {
    let state: LiveState
    let token: String?

    private static let subscriptionID = 1

    func follow() async throws {
        guard let url = await state.links["multiplex-ws"] else { throw LiveResourceError.transportNotOffered(.webSocket) }
        var configuration = WebSocketClientConfiguration()
        configuration.additionalHeaders[.secWebSocketProtocol] = "liveresource"
        if let token { configuration.additionalHeaders[.authorization] = "Bearer \(token)" }
        // Pings find a connection whose server vanished without closing it.
        configuration.autoPing = .enabled(timePeriod: .seconds(30))
        var logger = Logger(label: "eddy-client")
        logger.logLevel = .critical
        let subscribe = await subscribeMessage()
        let state = self.state
        let failure = Mutex<(any Error)?>(nil)
        try await WebSocketClient.connect(url: url, configuration: configuration, logger: logger) { inbound, outbound, _ in
            do {
                try await outbound.write(.text(subscribe))
                try await withTaskCancellationHandler {
                    for try await message in inbound.messages(maxSize: 64 << 20) {
                        guard case .text(let text) = message, let json = try? JSONValue(parsing: text) else { continue }
                        try await Self.handle(json, state: state)
                    }
                } onCancel: {
                    Task { try? await outbound.close(.goingAway, reason: nil) }
                }
            } catch {
                failure.withLock { $0 = error }
            }
        }
        try Task.checkCancellation()
        throw failure.withLock { $0 } ?? Follower.Disconnected()
    }

    private func subscribeMessage() async -> String {
        var message: [String: JSONValue] = [
            "id": .int(Int64(Self.subscriptionID)),
            "type": .string("subscribe"),
            "mode": .string(state.isCollection ? "changes" : "value"),
            "uri": .string(ResourceURL.path(of: state.url)),
        ]
        if let position = await state.position { message["after"] = .string(position) }
        return JSONValue.object(message).text
    }

    private static func handle(_ message: JSONValue, state: LiveState) async throws {
        switch message["type"] {
        case .string("subscribed")?:
            await state.connected()
        case .string("error")?:
            let code: Int = if case .int(let code)? = message["code"] { Int(code) } else { 0 }
            let detail: String = if case .string(let text)? = message["message"] { text } else { "" }
            if code == 404, message["id"] == .int(Int64(subscriptionID)) { throw Follower.HistoryGone() }
            if let refusal = Follower.refusal(code, body: detail) { throw refusal }
            // The subscription ended (a reader that fell behind, a server going away): resume.
            throw Follower.Disconnected()
        case .string("event")?:
            guard case .string(let uri)? = message["uri"], uri == ResourceURL.path(of: state.url) else { return }
            let body = message["body"] ?? .null
            if state.isCollection {
                guard case .array(let items) = body else { return }
                let next: String? = if case .string(let link)? = message["headers"]?["Link"] { LinkHeader.relations([link])["changes"] } else { nil }
                await state.itemsChanged(items, upTo: next.flatMap(ResourceURL.checkpoint(in:)))
            } else {
                let etag: String? = if case .string(let tag)? = message["headers"]?["ETag"] { HTTPRequester.opaque(tag) } else { nil }
                await state.objectChanged(to: body == .null ? nil : body, at: etag)
            }
        default:
            return
        }
    }
}
