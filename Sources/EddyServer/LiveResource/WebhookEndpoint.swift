import EddyCore
import Foundation
import HTTPTypes
import Hummingbird

/// The `value-callback` / `changes-callback` subscription collections (resthooks style):
/// `POST` a form with `callback_uri` to subscribe (201, `Location` ending in the encoded URI),
/// `DELETE` that location to unsubscribe (204), `GET` the collection to list them.
struct WebhookEndpoint: Sendable {
    let webhooks: Webhooks
    let store: any ResourceStore
    let access: AccessController
    let outbound: OutboundGuard
    let limitPerSubject: Int
    let maximumBodyBytes: Int

    /// What a callback URL names: the watched resource, and for a subscription (no trailing
    /// '/') its encoded callback URI.
    private struct Target {
        let path: ResourcePath
        let callbackSegment: Substring?
        let collectionURL: String
    }

    private func target(_ rawPath: String, _ mode: Webhooks.Mode, _ exchange: Exchange) throws -> Target {
        let prefix = mode == .value ? LiveEndpoints.valueCallbacks : LiveEndpoints.changesCallbacks
        var rest = Substring(rawPath.dropFirst(prefix.count))
        var callbackSegment: Substring?
        if !rest.hasSuffix("/") {
            guard let slash = rest.lastIndex(of: "/") else { throw Problem.notFound(rawPath) }
            callbackSegment = rest[rest.index(after: slash)...]
            rest = rest[...slash]
        }
        let path = try ResourcePath(parsing: mode == .value ? String(rest.dropLast()) : String(rest))
        guard path.isCollection == (mode == .changes) else {
            throw Problem.badRequest(
                "invalid-path", mode == .value ? "value callbacks watch objects" : "changes callbacks watch collections (paths ending in '/')")
        }
        try access.authorize(exchange.identity, to: .read, at: path)
        return Target(
            path: path, callbackSegment: callbackSegment,
            collectionURL: exchange.baseURL + prefix + path.encoded + (mode == .value ? "/" : ""))
    }

    /// One subscription, named by its encoded callback URI.
    private func subscription(_ rawPath: String, _ mode: Webhooks.Mode, _ exchange: Exchange) async throws -> (
        id: String, callback: String, stored: StoredRegistration
    ) {
        let target = try target(rawPath, mode, exchange)
        guard let segment = target.callbackSegment, let decoded = String(segment).removingPercentEncoding,
            let callback = URL(string: decoded)
        else { throw Problem.notFound(rawPath) }
        let id = Webhooks.Registration(mode: mode, path: target.path, callback: callback, base: exchange.baseURL).id
        guard let stored = try await store.registration(id: id) else { throw Problem.notFound("the subscription \(decoded)") }
        return (id, decoded, stored)
    }

    func registration(rawPath: String, mode: Webhooks.Mode, exchange: Exchange) async throws -> Response {
        let found = try await subscription(rawPath, mode, exchange)
        return .json(.ok, "{\"callback_uri\":\(JSONValue.quoted(found.callback))}")
    }

    func unsubscribe(rawPath: String, mode: Webhooks.Mode, exchange: Exchange) async throws -> Response {
        let found = try await subscription(rawPath, mode, exchange)
        guard found.stored.subject == nil || ByteIdentity.same(found.stored.subject, exchange.identity.subject) else {
            throw Problem(.forbidden, "forbidden", "only the subject that made this subscription may delete it")
        }
        _ = try await webhooks.unregister(id: found.id)
        return Response(status: .noContent)
    }

    private func collection(_ rawPath: String, _ mode: Webhooks.Mode, _ exchange: Exchange) throws -> Target {
        let target = try target(rawPath, mode, exchange)
        guard target.callbackSegment == nil else { throw Problem.notFound(rawPath) }
        return target
    }

    func list(rawPath: String, mode: Webhooks.Mode, exchange: Exchange) async throws -> Response {
        let path = try collection(rawPath, mode, exchange).path
        let listed = try await webhooks.registrations(at: path, mode: mode)
            .filter { $0.1 == nil || ByteIdentity.same($0.1, exchange.identity.subject) }
            .map { "{\"callback_uri\":\(JSONValue.quoted($0.0.callback.absoluteString))}" }
        return .json(.ok, "[" + listed.joined(separator: ",") + "]")
    }

    func subscribe(_ request: inout Request, rawPath: String, mode: Webhooks.Mode, exchange: Exchange) async throws -> Response {
        let target = try collection(rawPath, mode, exchange)
        let path = target.path
        let callback = try await callbackURI(&request)
        do {
            _ = try await outbound.vet(callback)
        } catch {
            throw Problem.badRequest("callback-refused", "\(callback.absoluteString) cannot be called: \(error)")
        }
        let exists = path.isCollection ? try await store.collectionExists(path) : try await store.resource(at: path) != nil
        guard exists else { throw Problem.notFound(path.description) }
        let registration = Webhooks.Registration(mode: mode, path: path, callback: callback, base: exchange.baseURL)
        _ = try await webhooks.register(
            registration, subject: exchange.identity.subject, address: exchange.clientAddress, limitPerSubject: limitPerSubject)
        let location = target.collectionURL + callback.absoluteString.percentEncodedSegment()
        return Response(status: .created, headers: [.location: location, .contentLength: "0"])
    }

    /// `callback_uri` from a form body (or a JSON object, for convenience).
    private func callbackURI(_ request: inout Request) async throws -> URL {
        let type = request.mediaType
        let body = try await request.collectBody(upTo: maximumBodyBytes)
        let text = String(buffer: body)
        var raw: String?
        switch type {
        case "application/x-www-form-urlencoded":
            for pair in text.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0] == "callback_uri" {
                    raw = String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
                }
            }
        case "application/json":
            if case .string(let value)? = try JSONValue(parsing: text)["callback_uri"] { raw = value }
        default:
            throw Problem(
                .unsupportedMediaType, "unsupported-media-type", "send callback_uri as application/x-www-form-urlencoded (or JSON)")
        }
        guard let raw, let url = URL(string: raw), let scheme = url.scheme, ["http", "https"].contains(scheme.lowercased()), url.host != nil
        else {
            throw Problem.badRequest("invalid-callback", "callback_uri must be an absolute http(s) URL")
        }
        return url
    }
}
