import Hummingbird

/// Eddy's router: the middleware every request passes, then each protocol folder's routes.
struct EddyRouter {
    let resources: ResourceHandler
    let eventLog: EventLogHandler
    let liveStreams: LiveStreams
    let multiplex: Multiplex
    let webhookEndpoint: WebhookEndpoint
    let concrnt: Concrnt
    let timeline: ChunkedTimeline
    let solid: SolidEndpoints
    let webAssets: WebAssets
    let status: StatusStream
    let access: AccessController
    let writeLimits: WriteLimits
    let maximumBodyBytes: Int
    let scheme: String
    let cors: CORS

    func makeResponder() -> EddyResponder {
        let beforeIdentity = [HealthRoutes.make(), webAssets.routes()]
        let identified = [
            EventLogRoutes.make(eventLog),
            LiveResourceRoutes.make(liveStreams: liveStreams, multiplex: multiplex, webhooks: webhookEndpoint),
            ConcrntRoutes.make(concrnt, timeline: timeline, access: access, limits: writeLimits),
            SolidRoutes.make(solid),
            StatusRoutes.make(status),
            ResourceRoutes.make(resources, timeline: timeline, access: access, limits: writeLimits),
        ]
        let router = KeyedRouter()
        router.add(middleware: EdgeMiddleware(cors: cors, maximumBodyBytes: maximumBodyBytes))
        for routes in beforeIdentity { router.add(routes) }
        router.add(middleware: IdentityMiddleware(access: access, cors: cors, scheme: scheme))
        for routes in identified { router.add(routes) }
        return router.buildResponder()
    }
}
