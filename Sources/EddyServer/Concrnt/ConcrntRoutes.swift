import EddyCore
import HTTPTypes
import Hummingbird

/// Concrnt: discovery, the commit endpoint, entity and resource reads (by the spec's path and
/// the deployed `resolve?uri=`), the realtime socket (426 without an upgrade), the chunked
/// timelines of every collection (by path, and of a Concrnt timeline by its URI) and the
/// newest entries across several timelines.
enum ConcrntRoutes {
    static func make(_ concrnt: Concrnt, timeline: ChunkedTimeline, access: AccessController, limits: WriteLimits) -> EddyRoutes {
        var routes = EddyRoutes()
        routes.on(RoutingKey.key(for: "/.well-known/concrnt"), .get) { request, _ in
            try concrnt.wellKnown(request)
        }
        routes.on(RoutingKey.below(Concrnt.timelinePrefix), .get) { request, context in
            let collection = try ResourcePath(parsing: context.rawPath.dropFirst(Concrnt.timelinePrefix.count))
            return try await timeline.respond(request, collection: collection, exchange: context.identified())
        }
        routes.on(RoutingKey.below(Concrnt.resourcePrefix.dropLast()), .get) { request, context in
            let uri = try Concrnt.uri(after: Concrnt.resourcePrefix, in: context.rawPath)
            return try await concrnt.resolve(uri, request: request, timeline: timeline, access: access, exchange: context.identified())
        }
        routes.on(RoutingKey.key(for: Concrnt.resolvePath), .get) { request, context in
            let uri = try Concrnt.uri(inQueryOf: request)
            return try await concrnt.resolve(uri, request: request, timeline: timeline, access: access, exchange: context.identified())
        }
        routes.on(RoutingKey.below(Concrnt.timelineByURIPrefix.dropLast()), .get) { request, context in
            let uri = try Concrnt.uri(after: Concrnt.timelineByURIPrefix, in: context.rawPath)
            return try await timeline.respond(request, collection: try uri.membersPath, exchange: context.identified())
        }
        let recent = RecentTimelines(store: timeline.store, access: access)
        routes.on(RoutingKey.key(for: Concrnt.recentPath), .get) { request, context in
            try await recent.respond(request, exchange: context.identified())
        }
        routes.on(RoutingKey.below(Concrnt.entityPrefix.dropLast()), .get) { request, context in
            try await concrnt.entity(request, rawPath: context.rawPath)
        }
        routes.on(RoutingKey.key(for: Concrnt.realtimePath), .get) { _, context in
            throw Problem(
                .init(code: 426, reasonPhrase: "Upgrade Required"), "websocket-required", "\(context.rawPath) speaks WebSocket",
                headers: [.upgrade: "websocket"])
        }
        // The document is charged by the middleware before its body is read; each collection it
        // joins is one more write, charged once the document says how many.
        routes.add(middleware: WriteLimitMiddleware(limits: limits))
        routes.on(RoutingKey.key(for: Concrnt.commitPath), .post) { request, context in
            let exchange = try context.identified()
            return try await concrnt.commit(&request, identity: exchange.identity, access: access) { entries in
                try limits.charge(exchange, cost: entries)
            }
        }
        return routes
    }
}
