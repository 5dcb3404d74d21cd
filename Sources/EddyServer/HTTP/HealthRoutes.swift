import Hummingbird

/// The liveness check, answered before identification: a probe carries no credentials.
enum HealthRoutes {
    static let path = "/healthz"

    static func make() -> EddyRoutes {
        var routes = EddyRoutes()
        routes.on(path, .get) { _, _ in .json(.ok, "{\"status\":\"ok\"}") }
        return routes
    }
}
