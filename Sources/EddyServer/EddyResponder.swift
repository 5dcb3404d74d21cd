import EddyCore
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Routes every request: Eddy's own endpoints live under `/.eddy/` (a prefix no resource can
/// take, since resource segments may not start with '.'); every other path is a resource.
/// Identity, access and the write rate are settled here, once, before any handler runs.
struct EddyResponder: HTTPResponder {
    typealias Context = EddyRequestContext

    let resources: ResourceHandler
    let eventLog: EventLogHandler
    let liveStreams: LiveStreams
    let multiplex: Multiplex
    let webhookEndpoint: WebhookEndpoint
    let concrnt: Concrnt
    let timeline: ChunkedTimeline
    let solid: SolidEndpoints
    let webAssets: WebAssets
    let access: AccessController
    let writeLimiter: RateLimiter
    let maximumBodyBytes: Int
    let scheme: String
    let cors: CORS

    func respond(to request: Request, context: Context) async throws -> Response {
        if cors.isPreflight(request) { return cors.preflight(request) }
        var response = await respondWithoutCORS(to: request, context: context)
        cors.decorate(&response, for: request)
        return response
    }

    private func respondWithoutCORS(to request: Request, context: Context) async -> Response {
        var request = request
        do {
            return try await route(&request, context: context)
        } catch {
            let problem = Problem.from(error, maximumBodyBytes: maximumBodyBytes)
            if problem.status == .internalServerError {
                context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            } else if problem.status == .tooManyRequests {
                context.logger.notice("write refused: rate limit", metadata: ["client": "\(context.clientAddress)"])
            }
            return problem.response(forHEAD: request.method == .head)
        }
    }

    private func route(_ request: inout Request, context: Context) async throws -> Response {
        let rawPath = request.uri.path
        if rawPath == "/healthz" {
            guard request.method == .get || request.method == .head else {
                throw Problem.methodNotAllowed(request.method, allowed: [.get, .head], target: "/healthz")
            }
            return .json(.ok, "{\"status\":\"ok\"}", head: request.method == .head)
        }
        // Before identification: a stale token cookie must not lock anyone out of the sign-in page.
        if WebAssets.serves(rawPath) { return try webAssets.respond(request, rawPath: rawPath) }
        try cors.refuseCrossSiteCookieWrite(request)
        let identity = try await access.identify(request)
        let exchange = Exchange(
            identity: identity, baseURL: scheme + "://" + (request.head.authority ?? "localhost"), connection: context.channel,
            clientAddress: context.clientAddress)
        switch rawPath {
        case "/.eddy/events":
            return try await eventLog.respond(to: request, exchange: exchange)
        case _ where rawPath.hasPrefix(LiveEndpoints.valueStream + "/"):
            return try await liveStreams.valueStream(request, rawPath: rawPath, exchange: exchange)
        case _ where rawPath.hasPrefix(LiveEndpoints.changesStream + "/"):
            return try await liveStreams.changesStream(request, rawPath: rawPath, exchange: exchange)
        case _ where rawPath.hasPrefix(LiveEndpoints.valueCallbacks + "/"):
            return try await webhookEndpoint.respond(&request, rawPath: rawPath, mode: .value, exchange: exchange)
        case _ where rawPath.hasPrefix(LiveEndpoints.changesCallbacks + "/"):
            return try await webhookEndpoint.respond(&request, rawPath: rawPath, mode: .changes, exchange: exchange)
        case _ where rawPath.hasPrefix(Concrnt.timelinePrefix + "/"):
            let collection = try ResourcePath(parsing: rawPath.dropFirst(Concrnt.timelinePrefix.count))
            return try await timeline.respond(request, collection: collection, exchange: exchange)
        case "/.well-known/concrnt":
            return try concrnt.wellKnown(request)
        case Concrnt.commitPath:
            try limitWrites(identity, context)
            return try await concrnt.commit(&request, identity: identity, access: access) { entries in
                try limitWrites(identity, context, cost: entries)
            }
        case _ where rawPath.hasPrefix(Concrnt.resourcePrefix):
            return try await concrnt.resource(request, rawPath: rawPath, access: access, identity: identity)
        case _ where rawPath.hasPrefix(Concrnt.entityPrefix):
            return try await concrnt.entity(request, rawPath: rawPath)
        case Concrnt.realtimePath:
            throw Problem(
                .init(code: 426, reasonPhrase: "Upgrade Required"), "websocket-required", "\(rawPath) speaks WebSocket",
                headers: [.upgrade: "websocket"])
        case StorageDescription.path:
            return try solid.storageDescription(request, exchange: exchange)
        case _ where rawPath.hasPrefix(StorageDescription.servicePrefix):
            return try await solid.subscriptionService(&request, rawPath: rawPath, exchange: exchange)
        case _ where rawPath.hasPrefix(StorageDescription.channelPrefix):
            return try await solid.channelResource(request, exchange: exchange)
        case _ where rawPath.hasPrefix(StorageDescription.receivePrefix):
            return try await solid.receive(request, rawPath: rawPath, connection: context.channel)
        case LiveEndpoints.multiplexSocket:
            throw Problem(
                .init(code: 426, reasonPhrase: "Upgrade Required"), "websocket-required",
                "\(rawPath) speaks WebSocket (subprotocol liveresource); open it with an Upgrade request",
                headers: [.upgrade: "websocket"])
        case LiveEndpoints.multiplexWait, LiveEndpoints.multiplexStream:
            guard request.method == .get else {
                throw Problem.methodNotAllowed(request.method, allowed: [.get], target: "a multiplex endpoint")
            }
            let wantsStream = rawPath == LiveEndpoints.multiplexStream || request.headers[.accept]?.contains("text/event-stream") == true
            return wantsStream
                ? try await multiplex.stream(request, exchange: exchange) : try await multiplex.wait(request, exchange: exchange)
        default:
            if rawPath.hasPrefix("/.") {
                throw Problem.notFound(rawPath)
            }
            let path = try ResourcePath(parsing: rawPath)
            if path.isCollection, request.method == .get || request.method == .head,
                request.headers[.accept]?.contains(ChunkedTimeline.mediaType) == true
            {
                return try await timeline.respond(request, collection: path, exchange: exchange)
            }
            let action: AccessPolicy.Action = request.method == .get || request.method == .head ? .read : .write
            try access.authorize(identity, to: action, at: path)
            if action == .write { try limitWrites(identity, context) }
            return try await resources.respond(to: &request, path: path, exchange: exchange)
        }
    }

    private func limitWrites(_ identity: Identity, _ context: Context, cost: Int = 1) throws {
        guard cost > 0 else { return }
        let key = identity.subject.map { "sub:" + $0 } ?? "addr:" + context.clientAddress
        let decision = writeLimiter.take(key, cost: cost)
        guard !decision.allowed else { return }
        let seconds = max(1, Int(decision.retryAfter.rounded(.up)))
        throw Problem(
            .tooManyRequests, "rate-limited", "too many writes; try again in \(seconds) s",
            headers: [.retryAfter: String(seconds)])
    }
}

/// What a handler knows about the request beyond its bytes: who asks, and the absolute base
/// URL they reached the server by (for Location and every other URL Eddy hands out).
struct Exchange: Sendable {
    let identity: Identity
    let baseURL: String
    /// Where a streaming answer is written; see `StreamOutlet`.
    let connection: (any Channel)?
    /// The peer's address, which anonymous callers' quotas key on.
    let clientAddress: String
}
