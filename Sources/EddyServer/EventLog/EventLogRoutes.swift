import Hummingbird

/// Eddy's own view of the change log, `/.eddy/events`.
enum EventLogRoutes {
    static let path = "/.eddy/events"

    static func make(_ eventLog: EventLogHandler) -> EddyRoutes {
        var routes = EddyRoutes()
        routes.on(RoutingKey.key(for: path), .get, headToo: false) { request, context in
            try await eventLog.respond(to: request, exchange: context.identified())
        }
        return routes
    }
}
