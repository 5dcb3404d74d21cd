import EddyCore
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore

/// A WebSocket endpoint: given the upgrade request and who sent it, it accepts (naming the
/// subprotocol it speaks, if any) or declines, and then serves the socket.
protocol WebSocketService: Sendable {
    /// Subprotocols this endpoint speaks; offering none is accepted too.
    var subprotocols: [String] { get }

    /// Serves one socket, until it closes or until it is served from its pipeline
    /// (`SocketOutbox.serve`). `connection` is the upgraded channel, whose messages a
    /// `SocketOutbox` can write as ready-made frames.
    func serve(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, identity: Identity, request: HTTPRequest,
        connection: SocketConnection?, logger: Logger
    ) async throws
}

/// Decides WebSocket upgrades by path. A request that is not upgraded (unknown path, bad
/// token) falls through to the HTTP responder, which answers it with a problem.
struct WebSocketRoutes: Sendable {
    /// By path, compared as bytes.
    let services: [ByteIdentity: any WebSocketService]
    /// Solid channel sockets, whose paths carry their capability.
    let solid: SolidSocket
    let access: AccessController
    /// Which origins may open a socket with the user's cookie.
    let cors: CORS
    let maximumMessageBytes: Int
    /// Pings the clients of sockets served from their pipeline.
    let pinger: KeepAliveTicker

    func shouldUpgrade(_ request: HTTPRequest, channel: (any Channel)?) async -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        let target = request.path ?? "/"
        let path = String(target.split(separator: "?", maxSplits: 1).first ?? "")
        let service: any WebSocketService
        if let exact = services[ByteIdentity(path)] {
            service = exact
        } else if path.hasPrefix(StorageDescription.receivePrefix), await solid.accepts(path: path) {
            service = solid
        } else {
            return .dontUpgrade
        }
        var credentials = request.headerFields
        if !cors.mayUseCookies(origin: credentials[.origin], host: request.authority) {
            // A page from another origin gets the socket, but not the user's cookie.
            credentials[values: .cookie] = []
        }
        guard let identity = try? await access.identify(headers: credentials, target: target) else { return .dontUpgrade }
        var headers = HTTPFields()
        let offered = request.headerFields[values: .secWebSocketProtocol].flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        if let chosen = offered.first(where: { offer in service.subprotocols.contains { $0.hasSameBytes(as: offer) } }) {
            headers[.secWebSocketProtocol] = chosen
        } else if !offered.isEmpty {
            // Offered only protocols we do not speak: refuse rather than pretend.
            return .dontUpgrade
        }
        let maximumMessageBytes = self.maximumMessageBytes
        let connection = channel.map { SocketConnection(channel: $0, pinger: pinger) }
        return .upgrade(headers) { inbound, outbound, context in
            let logger = context.logger
            // In a task of its own: the connection's task lives as long as the socket (it waits
            // for the channel to close), and a task keeps the memory its frames ever grew to.
            // The service's setup frames would stay with every socket — about 4 KiB of it.
            let serving = Task {
                do {
                    try await service.serve(
                        inbound: inbound, outbound: outbound, identity: identity, request: request, connection: connection, logger: logger)
                } catch {
                    logger.debug("WebSocket ended", metadata: ["error": "\(error)", "limit": "\(maximumMessageBytes)"])
                }
            }
            await withTaskCancellationHandler {
                await serving.value
            } onCancel: {
                serving.cancel()
            }
        }
    }
}
