import EddyCore
import Foundation

/// A notification channel as Eddy keeps it: what it watches, how it is reached, its features,
/// and who made it. Persisted as a registration, so it survives restarts until it ends.
struct SolidChannel: Sendable {
    static let kind = "solid-channel"
    /// The longest `rate` a channel may ask for; longer ones are refused with 422.
    static let maximumRate = Duration.seconds(86_400)
    /// The instants a channel may name: up to the end of year 9999, as RFC 3339 can spell.
    static let instants = 0.0...253_402_300_799.0

    let id: String
    let type: SolidVocabulary.ChannelType
    let topic: String
    let path: ResourcePath
    /// The capability in `receiveFrom`/`source`: 128 random bits, base64url.
    let token: String
    let subject: String?
    let state: String?
    /// At most one notification per this period.
    let rate: Duration?
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
        pace.hasEnded(at: now)
    }

    var filter: SubscriptionFilter { path.isCollection ? .children(path) : .value(path) }

    /// When and how often the channel delivers: the one rule every channel type applies.
    var pace: DeliveryPace { DeliveryPace(startAt: startAt, endAt: endAt, minimumInterval: rate) }

    var payload: String {
        var members: [String: JSONValue] = [
            "type": .string(type.rawValue), "topic": .string(topic), "path": .string(path.description), "token": .string(token),
            "base": .string(base),
        ]
        if let state { members["state"] = .string(state) }
        if let rate { members["rate"] = .double(Double(ISO8601Duration.milliseconds(rate)) / 1000) }
        if let startAt { members["startAt"] = .double(startAt.timeIntervalSince1970) }
        if let endAt { members["endAt"] = .double(endAt.timeIntervalSince1970) }
        if let sendTo { members["sendTo"] = .string(sendTo) }
        return JSONValue.object(members).text
    }

    init(
        id: String, type: SolidVocabulary.ChannelType, topic: String, path: ResourcePath, token: String, subject: String?, state: String?,
        rate: Duration?, startAt: Date?, endAt: Date?, sendTo: String?, base: String
    ) {
        self.id = id
        self.type = type
        self.topic = topic
        self.path = path
        self.token = token
        self.subject = subject
        self.state = state
        self.rate = rate
        self.startAt = startAt
        self.endAt = endAt
        self.sendTo = sendTo
        self.base = base
    }

    /// Why a stored channel cannot be served.
    struct Unreadable: Error, CustomStringConvertible {
        let description: String
    }

    /// Reads a stored channel back, checking every number as strictly as a client's request:
    /// a registration written by another version, or by hand, must not make the server trap.
    init(stored: StoredRegistration) throws(Unreadable) {
        guard let json = try? JSONValue(parsing: stored.payload) else { throw Unreadable(description: "the payload is not JSON") }
        func string(_ key: String) -> String? {
            if case .string(let value)? = json[key] { return value }
            return nil
        }
        func number(_ key: String, within range: ClosedRange<Double>) throws(Unreadable) -> Double? {
            let value: Double
            switch json[key] {
            case nil: return nil
            case .double(let number)?: value = number
            case .int(let number)?: value = Double(number)
            default: throw Unreadable(description: "\(key) is not a number")
            }
            guard range.contains(value) else { throw Unreadable(description: "\(key) \(value) is outside \(range)") }
            return value
        }
        guard let typeName = string("type"), let type = SolidVocabulary.ChannelType(rawValue: typeName) else {
            throw Unreadable(description: "unknown channel type")
        }
        guard let topic = string("topic"), let path = string("path"), let parsedPath = try? ResourcePath(decoded: path) else {
            throw Unreadable(description: "no readable topic")
        }
        guard let token = string("token"), let base = string("base") else { throw Unreadable(description: "no token or base") }
        let maximumRate = Double(ISO8601Duration.milliseconds(Self.maximumRate)) / 1000
        let rate = try number("rate", within: 0...maximumRate).map { Duration.milliseconds(Int64(($0 * 1000).rounded(.down))) }
        self.init(
            id: stored.id, type: type, topic: topic, path: parsedPath, token: token, subject: stored.subject, state: string("state"),
            rate: rate, startAt: try number("startAt", within: Self.instants).map { Date(timeIntervalSince1970: $0) },
            endAt: try number("endAt", within: Self.instants).map { Date(timeIntervalSince1970: $0) }, sendTo: string("sendTo"), base: base)
    }
}
