import EddyCore
import Foundation
import HTTPTypes

/// A parsed, validated subscription request. JSON-LD is read as plain JSON with the known
/// contexts resolved locally: no context is ever fetched.
struct ChannelRequest: Sendable {
    let type: SolidVocabulary.ChannelType
    let topic: String
    let state: String?
    let rate: Duration?
    let startAt: Date?
    let endAt: Date?
    let sendTo: String?

    static func unprocessable(_ detail: String) -> Problem {
        Problem(.init(code: 422, reasonPhrase: "Unprocessable Content"), "unprocessable-subscription", detail)
    }

    /// 415 unless the body is JSON-LD with no profile, or a profile Eddy knows.
    static func checkMediaType(_ headers: HTTPFields) throws {
        guard let raw = headers[.contentType] else {
            throw Problem(.unsupportedMediaType, "unsupported-media-type", "send the subscription request as application/ld+json")
        }
        let parts = raw.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.first?.lowercased() == "application/ld+json" else {
            throw Problem(.unsupportedMediaType, "unsupported-media-type", "\(parts.first ?? "") is not JSON-LD; send application/ld+json")
        }
        for parameter in parts.dropFirst() where parameter.lowercased().hasPrefix("profile=") {
            let profile = parameter.dropFirst(8).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            let known = ["http://www.w3.org/ns/json-ld#compacted", SolidVocabulary.notificationContext, SolidVocabulary.notificationsContext]
            guard known.contains(profile) else {
                throw Problem(.unsupportedMediaType, "unsupported-profile", "the JSON-LD profile \(profile) is not supported")
            }
        }
    }

    init(parsing text: String, expectedType: SolidVocabulary.ChannelType) throws {
        let body: JSONValue
        do {
            body = try JSONValue(parsing: text)
        } catch {
            throw Self.unprocessable("the body is not JSON: \(error)")
        }
        guard case .object = body else { throw Self.unprocessable("the body must be a JSON-LD object") }

        var contexts: [String] = []
        switch body["@context"] {
        case .string(let context)?: contexts = [context]
        case .array(let items)?:
            for item in items {
                guard case .string(let context) = item else { throw Self.unprocessable("only context URIs are supported in @context") }
                contexts.append(context)
            }
        case nil: throw Self.unprocessable("@context is required")
        default: throw Self.unprocessable("@context must be a URI or a list of URIs")
        }
        if let unknown = contexts.first(where: { !SolidVocabulary.knownContexts.contains($0) }) {
            throw Self.unprocessable("unknown @context \(unknown)")
        }
        guard contexts.contains(SolidVocabulary.notificationContext) || contexts.contains(SolidVocabulary.notificationsContext) else {
            throw Self.unprocessable("@context must include \(SolidVocabulary.notificationContext)")
        }

        guard case .string(let typeName)? = body["type"] ?? body["@type"] else { throw Self.unprocessable("type is required") }
        guard let type = SolidVocabulary.ChannelType(name: typeName) else { throw Self.unprocessable("unknown channel type \(typeName)") }
        guard type == expectedType else {
            throw Self.unprocessable("this subscription service makes \(expectedType.rawValue) channels, not \(type.rawValue)")
        }
        self.type = type

        switch body["topic"] {
        case .string(let topic)?: self.topic = topic
        case .object(let node)?:
            guard case .string(let topic)? = node["id"] ?? node["@id"] else { throw Self.unprocessable("topic must name a resource") }
            self.topic = topic
        case .array(let items)? where items.count == 1:
            guard case .string(let topic) = items[0] else { throw Self.unprocessable("topic must be a URL") }
            self.topic = topic
        case .array?: throw Self.unprocessable("exactly one topic per channel")
        case nil: throw Self.unprocessable("topic is required")
        default: throw Self.unprocessable("topic must be a URL")
        }

        if case .string(let state)? = body["state"] { self.state = state } else if body["state"] != nil {
            throw Self.unprocessable("state must be a string")
        } else { self.state = nil }

        switch body["rate"] {
        case nil: rate = nil
        case .string(let raw)?:
            do {
                rate = try ISO8601Duration.parse(raw, maximum: SolidChannel.maximumRate)
            } catch .beyondMaximum {
                throw Self.unprocessable("rate \(raw) is longer than the maximum, \(ISO8601Duration.format(SolidChannel.maximumRate))")
            } catch {
                throw Self.unprocessable("rate \(raw) is not an ISO 8601 duration (weeks, days, hours, minutes, seconds)")
            }
        default: throw Self.unprocessable("rate must be an ISO 8601 duration string")
        }

        func instant(_ key: String) throws -> Date? {
            switch body[key] {
            case nil: return nil
            case .string(let raw)?:
                guard let date = Instant.parse(raw) else { throw Self.unprocessable("\(key) \(raw) is not an RFC 3339 date-time") }
                return date
            default: throw Self.unprocessable("\(key) must be a date-time string")
            }
        }
        startAt = try instant("startAt")
        let endAt = try instant("endAt") ?? instant("expiration")
        if let endAt, endAt <= Date() { throw Self.unprocessable("endAt is in the past") }
        self.endAt = endAt

        switch body["accept"] {
        case nil: break
        case .string(let accept)?:
            guard accept.hasPrefix("application/ld+json") || accept == "*/*" else {
                throw Self.unprocessable("notifications are available as application/ld+json only, not \(accept)")
            }
        default: throw Self.unprocessable("accept must be a media type")
        }

        if type == .webhook2023 {
            guard case .string(let sendTo)? = body["sendTo"], let url = URL(string: sendTo), let scheme = url.scheme,
                ["http", "https"].contains(scheme.lowercased()), url.host != nil
            else { throw Self.unprocessable("WebhookChannel2023 needs sendTo, an absolute http(s) URL") }
            self.sendTo = sendTo
        } else {
            sendTo = nil
        }
    }
}
