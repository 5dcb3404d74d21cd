import EddyCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The HTTP side of Solid Notifications: discovery, the subscription services, channel
/// resources (DELETE ends a channel) and the capability URLs that stream notifications.
struct SolidEndpoints: Sendable {
    let channels: SolidChannels
    let store: any ResourceStore
    let hub: Hub
    let access: AccessController
    let streams: EventStreamResponse
    let maximumBodyBytes: Int
    let limitPerSubject: Int

    static let ldJSON = "application/ld+json"

    func storageDescription(_ request: Request, exchange: Exchange) throws -> Response {
        let accept = request.headers[.accept] ?? ""
        let wantsTurtle = accept.contains("text/turtle") && !accept.contains("application/ld+json")
        let body = wantsTurtle ? StorageDescription.turtle(exchange.baseURL) : StorageDescription.jsonLD(exchange.baseURL)
        return Self.document(body, type: wantsTurtle ? "text/turtle" : Self.ldJSON)
    }

    static func document(_ body: String, type: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = type
        headers[.vary] = "Accept"
        let buffer = ByteBuffer(string: body)
        headers[.contentLength] = String(buffer.readableBytes)
        return Response(status: status, headers: headers, body: .init(byteBuffer: buffer))
    }

    func subscriptionService(_ request: inout Request, rawPath: String, exchange: Exchange) async throws -> Response {
        guard let type = SolidVocabulary.ChannelType(rawValue: String(rawPath.dropFirst(StorageDescription.servicePrefix.count))) else {
            throw Problem.notFound(rawPath)
        }
        let allow = "GET, HEAD, OPTIONS, POST"
        switch request.method {
        case .get, .head:
            return Self.document(StorageDescription.serviceJSON(exchange.baseURL, type), type: Self.ldJSON)
        case .options:
            return Response(status: .noContent, headers: [.allow: allow, HTTPField.Name("Accept-Post")!: Self.ldJSON, .contentLength: "0"])
        case .post:
            return try await subscribe(&request, type: type, exchange: exchange)
        default:
            throw Problem.methodNotAllowed(request.method, allowed: [.get, .head, .options, .post], target: "a subscription service")
        }
    }

    private func subscribe(_ request: inout Request, type: SolidVocabulary.ChannelType, exchange: Exchange) async throws -> Response {
        try ChannelRequest.checkMediaType(request.headers)
        let text = String(buffer: try await request.collectBody(upTo: maximumBodyBytes))
        let parsed = try ChannelRequest(parsing: text, expectedType: type)
        let path = try topicPath(parsed.topic, exchange: exchange)
        // Reading the topic is what a channel grants: anonymous callers must authenticate.
        if !access.allows(exchange.identity, to: .read, at: path) { throw access.refusal(exchange.identity, .read, path) }
        let exists = path.isCollection ? try await store.collectionExists(path) : try await store.resource(at: path) != nil
        guard exists else { throw Problem(.notFound, "unknown-topic", "\(parsed.topic) is not a resource of this server") }
        if let sendTo = parsed.sendTo.flatMap(URL.init(string:)) {
            do {
                _ = try await channels.outboundGuard.vet(sendTo)
            } catch {
                throw ChannelRequest.unprocessable("sendTo cannot be called: \(error)")
            }
        }
        let channel = SolidChannel(
            id: exchange.baseURL + StorageDescription.channelPrefix + SolidChannel.newToken(), type: type, topic: parsed.topic, path: path,
            token: SolidChannel.newToken(), subject: exchange.identity.subject, state: parsed.state, rate: parsed.rate,
            startAt: parsed.startAt, endAt: parsed.endAt, sendTo: parsed.sendTo, base: exchange.baseURL)
        try await channels.create(channel, address: exchange.clientAddress, limitPerSubject: limitPerSubject)
        return Self.document(description(of: channel), type: Self.ldJSON)
    }

    /// The channel as the subscription response (and GET on its id) describes it.
    func description(of channel: SolidChannel) -> String {
        var members = [
            "\"@context\":[\(JSONValue.quoted(SolidVocabulary.notificationContext))]", "\"id\":\(JSONValue.quoted(channel.id))",
            "\"type\":\(JSONValue.quoted(channel.type.rawValue))", "\"topic\":\(JSONValue.quoted(channel.topic))",
        ]
        let receive = channel.base + StorageDescription.receivePrefix + channel.token
        switch channel.type {
        case .webSocketSubscription2021: members.append("\"source\":\(JSONValue.quoted(LiveEndpoints.webSocketScheme(receive)))")
        case .webSocket2023: members.append("\"receiveFrom\":\(JSONValue.quoted(LiveEndpoints.webSocketScheme(receive)))")
        case .eventSource2023, .streamingHTTP2023: members.append("\"receiveFrom\":\(JSONValue.quoted(receive))")
        case .webhook2023:
            members.append("\"sendTo\":\(JSONValue.quoted(channel.sendTo ?? ""))")
            members.append("\"sender\":\(JSONValue.quoted(channel.base + StorageDescription.path))")
        }
        if let state = channel.state { members.append("\"state\":\(JSONValue.quoted(state))") }
        if let rate = channel.rate { members.append("\"rate\":\(JSONValue.quoted(ISO8601Duration.format(rate)))") }
        if let startAt = channel.startAt { members.append("\"startAt\":\(JSONValue.quoted(Instant.format(startAt)))") }
        if let endAt = channel.endAt { members.append("\"endAt\":\(JSONValue.quoted(Instant.format(endAt)))") }
        return "{" + members.joined(separator: ",") + "}"
    }

    /// A topic must be a resource URL of this server.
    private func topicPath(_ topic: String, exchange: Exchange) throws -> ResourcePath {
        guard topic.hasPrefix(exchange.baseURL + "/") else {
            throw Problem(.notFound, "unknown-topic", "\(topic) is not a resource of this server (\(exchange.baseURL))")
        }
        let rest = topic.dropFirst(exchange.baseURL.count)
        do {
            return try ResourcePath(parsing: rest.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "/")
        } catch {
            throw Problem(.notFound, "unknown-topic", "\(topic) is not a resource of this server: \(error)")
        }
    }

    func channelResource(_ request: Request, exchange: Exchange) async throws -> Response {
        let id = exchange.baseURL + request.uri.path
        guard let channel = await channels.channel(id: id) else { throw Problem.notFound("the channel \(id)") }
        switch request.method {
        case .get, .head:
            guard channel.subject == nil || ByteIdentity.same(channel.subject, exchange.identity.subject) else {
                throw access.refusal(exchange.identity, .read, channel.path)
            }
            return Self.document(description(of: channel), type: Self.ldJSON)
        case .delete:
            guard channel.subject == nil || ByteIdentity.same(channel.subject, exchange.identity.subject) else {
                throw Problem(.forbidden, "forbidden", "only the subject that made this channel may delete it")
            }
            _ = try await channels.delete(id: channel.id)
            return Response(status: .resetContent, headers: [.contentLength: "0"])
        default:
            throw Problem.methodNotAllowed(request.method, allowed: [.get, .head, .delete], target: "a channel")
        }
    }

    /// `receiveFrom` of EventSource and streaming HTTP channels. The capability is the
    /// credential; what flows is limited by the read access of the channel's subject.
    func receive(_ request: Request, rawPath: String, connection: (any Channel)?) async throws -> Response {
        let token = String(rawPath.dropFirst(StorageDescription.receivePrefix.count))
        guard let channel = await channels.channel(token: token) else {
            throw Problem(.notFound, "unknown-channel", "this channel does not exist, was deleted or has ended")
        }
        // The subject's read access is checked where the subscription is made (`PushedStream`).
        switch channel.type {
        case .eventSource2023: return try await eventSource(channel, request: request, connection: connection)
        case .streamingHTTP2023: return try await streaming(channel, connection: connection)
        default:
            throw Problem(
                .init(code: 426, reasonPhrase: "Upgrade Required"), "websocket-required", "\(channel.type.rawValue) channels are WebSockets",
                headers: [.upgrade: "websocket"])
        }
    }

    private func eventSource(_ channel: SolidChannel, request: Request, connection: (any Channel)?) async throws -> Response {
        let start = ResumePosition.parse(request.headers[.lastEventID], epoch: store.epoch)
        let initial = (try? start.get()) == .now ? try await channels.stateNotification(for: channel) : nil
        return try await PushedStream.respond(
            channel: channel, from: start, initial: initial, hub: hub, access: access, epoch: store.epoch, ticker: streams.ticker,
            buffer: streams.bufferEvents, connection: connection, contentType: "text/event-stream",
            frame: { notification, checkpoint in SSEFrame.make(id: checkpoint?.token, data: notification) },
            startOverFrame: SSEFrame.startOver, endFrame: { $0 == .ended ? nil : SSEFrame.dropped($0) }, keepAliveFrame: ": keep-alive\n\n")
    }

    private func streaming(_ channel: SolidChannel, connection: (any Channel)?) async throws -> Response {
        let initial = try await channels.stateNotification(for: channel)
        return try await PushedStream.respond(
            channel: channel, from: .success(.now), initial: initial, hub: hub, access: access, epoch: store.epoch, ticker: streams.ticker,
            buffer: streams.bufferEvents, connection: connection, contentType: Self.ldJSON, frame: { notification, _ in notification + "\n" }, keepAliveFrame: "\n")
    }
}
