import EddyCore
import Foundation

/// A notification channel as Eddy keeps it: what it watches, how it is reached, its features,
/// and who made it. Persisted as a registration, so it survives restarts until it ends.
struct SolidChannel: Sendable {
    static let kind = "solid-channel"

    let id: String
    let type: SolidVocabulary.ChannelType
    let topic: String
    let path: ResourcePath
    /// The capability in `receiveFrom`/`source`: 128 random bits, base64url.
    let token: String
    let subject: String?
    let state: String?
    let rateSeconds: Double?
    let startAt: Date?
    let endAt: Date?
    let sendTo: String?
    /// The base URL the channel was made through; its URLs are built on it.
    let base: String

    static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    var isContainer: Bool { path.isCollection }

    func hasEnded(at now: Date = Date()) -> Bool {
        if let endAt { return now >= endAt }
        return false
    }

    var filter: SubscriptionFilter { path.isCollection ? .children(path) : .value(path) }

    var payload: String {
        var members: [String: JSONValue] = [
            "type": .string(type.rawValue), "topic": .string(topic), "path": .string(path.description), "token": .string(token),
            "base": .string(base),
        ]
        if let state { members["state"] = .string(state) }
        if let rateSeconds { members["rate"] = .double(rateSeconds) }
        if let startAt { members["startAt"] = .double(startAt.timeIntervalSince1970) }
        if let endAt { members["endAt"] = .double(endAt.timeIntervalSince1970) }
        if let sendTo { members["sendTo"] = .string(sendTo) }
        return JSONValue.object(members).text
    }

    init(
        id: String, type: SolidVocabulary.ChannelType, topic: String, path: ResourcePath, token: String, subject: String?, state: String?,
        rateSeconds: Double?, startAt: Date?, endAt: Date?, sendTo: String?, base: String
    ) {
        self.id = id
        self.type = type
        self.topic = topic
        self.path = path
        self.token = token
        self.subject = subject
        self.state = state
        self.rateSeconds = rateSeconds
        self.startAt = startAt
        self.endAt = endAt
        self.sendTo = sendTo
        self.base = base
    }

    init?(stored: StoredRegistration) {
        guard let json = try? JSONValue(parsing: stored.payload),
            case .string(let typeName)? = json["type"], let type = SolidVocabulary.ChannelType(rawValue: typeName),
            case .string(let topic)? = json["topic"], case .string(let path)? = json["path"],
            let parsedPath = try? ResourcePath(decoded: path),
            case .string(let token)? = json["token"], case .string(let base)? = json["base"]
        else { return nil }
        func number(_ key: String) -> Double? {
            switch json[key] {
            case .double(let value)?: value
            case .int(let value)?: Double(value)
            default: nil
            }
        }
        func string(_ key: String) -> String? {
            if case .string(let value)? = json[key] { return value }
            return nil
        }
        self.init(
            id: stored.id, type: type, topic: topic, path: parsedPath, token: token, subject: stored.subject, state: string("state"),
            rateSeconds: number("rate"), startAt: number("startAt").map { Date(timeIntervalSince1970: $0) },
            endAt: number("endAt").map { Date(timeIntervalSince1970: $0) }, sendTo: string("sendTo"), base: base)
    }
}
