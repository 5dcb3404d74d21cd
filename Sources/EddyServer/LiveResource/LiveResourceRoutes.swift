import HTTPTypes
import Hummingbird

/// LiveResource's endpoints under `/.eddy/`: value and changes streams, the callback
/// collections, and the multiplexed wait, stream and (426 without an upgrade) WebSocket.
enum LiveResourceRoutes {
    static func make(liveStreams: LiveStreams, multiplex: Multiplex, webhooks: WebhookEndpoint) -> EddyRoutes {
        var routes = EddyRoutes()
        // Streams hand the connection over; a HEAD cannot ask for that.
        routes.on(RoutingKey.below(LiveEndpoints.valueStream), .get, headToo: false) { request, context in
            try await liveStreams.valueStream(request, rawPath: context.rawPath, exchange: context.identified())
        }
        routes.on(RoutingKey.below(LiveEndpoints.changesStream), .get, headToo: false) { request, context in
            try await liveStreams.changesStream(request, rawPath: context.rawPath, exchange: context.identified())
        }
        for (prefix, mode) in [(LiveEndpoints.valueCallbacks, Webhooks.Mode.value), (LiveEndpoints.changesCallbacks, .changes)] {
            // A callback collection's URL ends in '/'; one subscription's in its encoded callback URI.
            for collection in [RoutingKey.key(for: prefix + "/"), RoutingKey.below(prefix) + "/" + RoutingKey.emptySegment] {
                routes.on(collection, .get) { _, context in
                    try await webhooks.list(rawPath: context.rawPath, mode: mode, exchange: context.identified())
                }
                routes.on(collection, .post) { request, context in
                    try await webhooks.subscribe(&request, rawPath: context.rawPath, mode: mode, exchange: context.identified())
                }
            }
            routes.on(RoutingKey.below(prefix), .get) { _, context in
                try await webhooks.registration(rawPath: context.rawPath, mode: mode, exchange: context.identified())
            }
            routes.on(RoutingKey.below(prefix), .delete) { _, context in
                try await webhooks.unsubscribe(rawPath: context.rawPath, mode: mode, exchange: context.identified())
            }
        }
        routes.on(RoutingKey.key(for: LiveEndpoints.multiplexSocket), .get) { _, context in
            throw Problem(
                .init(code: 426, reasonPhrase: "Upgrade Required"), "websocket-required",
                "\(context.rawPath) speaks WebSocket (subprotocol liveresource); open it with an Upgrade request",
                headers: [.upgrade: "websocket"])
        }
        routes.on(RoutingKey.key(for: LiveEndpoints.multiplexWait), .get, headToo: false) { request, context in
            let exchange = try context.identified()
            return request.headers[.accept]?.contains("text/event-stream") == true
                ? try await multiplex.stream(request, exchange: exchange) : try await multiplex.wait(request, exchange: exchange)
        }
        routes.on(RoutingKey.key(for: LiveEndpoints.multiplexStream), .get, headToo: false) { request, context in
            try await multiplex.stream(request, exchange: context.identified())
        }
        return routes
    }

}
