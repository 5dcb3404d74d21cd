import EddyCore
import Hummingbird

/// `/.eddy/status`, the live page's status panel's stream.
enum StatusRoutes {
    static func make(_ status: StatusStream) -> EddyRoutes {
        var routes = EddyRoutes()
        routes.on(StatusStream.path, .get, headToo: false) { request, context in
            try await status.respond(request, exchange: context.identified())
        }
        return routes
    }

    /// The hub's subscribers counted as the metrics label them, keyed `protocol/transport`.
    static func subscriptions(of hub: Hub) -> [String: Int] {
        Dictionary(
            hub.subscriberCounts().map { ($0.key.protocolName + "/" + $0.key.transport, $0.value) },
            uniquingKeysWith: +)
    }
}
