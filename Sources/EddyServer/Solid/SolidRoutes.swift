import HTTPTypes
import Hummingbird

/// Solid Notifications: the storage description, the subscription services, channel resources
/// the capability URLs notifications stream from, and the legacy `solid-0.1` socket.
enum SolidRoutes {
    static func make(_ solid: SolidEndpoints) -> EddyRoutes {
        var routes = EddyRoutes()
        routes.on(RoutingKey.key(for: StorageDescription.path), .get) { request, context in
            try solid.storageDescription(request, exchange: context.identified())
        }
        let services = RoutingKey.below(StorageDescription.servicePrefix.dropLast())
        for method in [HTTPRequest.Method.get, .options, .post] {
            routes.on(services, method) { request, context in
                try await solid.subscriptionService(&request, rawPath: context.rawPath, exchange: context.identified())
            }
        }
        let channels = RoutingKey.below(StorageDescription.channelPrefix.dropLast())
        for method in [HTTPRequest.Method.get, .delete] {
            routes.on(channels, method) { request, context in
                try await solid.channelResource(request, exchange: context.identified())
            }
        }
        routes.on(RoutingKey.key(for: LegacySocket.path), .get) { _, context in
            throw Problem(
                .init(code: 426, reasonPhrase: "Upgrade Required"), "websocket-required",
                "\(context.rawPath) speaks WebSocket (subprotocol \(LegacySocket.subprotocol)); open it with an Upgrade request",
                headers: [.upgrade: "websocket"])
        }
        // A notification stream keeps the connection; a HEAD cannot ask for that.
        routes.on(RoutingKey.below(StorageDescription.receivePrefix.dropLast()), .get, headToo: false) { request, context in
            try await solid.receive(request, rawPath: context.rawPath, connection: context.channel)
        }
        return routes
    }
}
