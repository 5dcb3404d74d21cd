import Foundation

/// The names the Solid Notifications Protocol uses, with every spelling real clients send.
enum SolidVocabulary {
    static let notificationContext = "https://www.w3.org/ns/solid/notification/v1"
    static let notificationsContext = "https://www.w3.org/ns/solid/notifications-context/v1"
    static let activityStreams = "https://www.w3.org/ns/activitystreams"
    static let knownContexts: Set<String> = [notificationContext, notificationsContext, activityStreams]
    static let storageDescriptionRel = "http://www.w3.org/ns/solid/terms#storageDescription"
    static let namespace = "http://www.w3.org/ns/solid/notifications#"
    /// The 2021 text's misspelling, still sent by clients written against it.
    static let oldNamespace = "http://www.w3.org/ns/solid/notification#"
    static let features = ["accept", "endAt", "rate", "startAt", "state"]

    enum ChannelType: String, CaseIterable, Sendable {
        case webSocketSubscription2021 = "WebSocketSubscription2021"
        case eventSource2023 = "EventSourceChannel2023"
        case webSocket2023 = "WebSocketChannel2023"
        case streamingHTTP2023 = "StreamingHTTPChannel2023"
        case webhook2023 = "WebhookChannel2023"

        /// Accepts the short name and the full IRI in either namespace spelling.
        init?(name: String) {
            var short = name
            for prefix in [SolidVocabulary.namespace, SolidVocabulary.oldNamespace, "notify:"] where name.hasPrefix(prefix) {
                short = String(name.dropFirst(prefix.count))
            }
            self.init(rawValue: short)
        }

        var iri: String { SolidVocabulary.namespace + rawValue }

        /// The types whose channel is a WebSocket.
        var usesWebSocket: Bool { self == .webSocketSubscription2021 || self == .webSocket2023 }
    }
}

/// RFC 3339 / ISO 8601 instants, with or without fractional seconds.
enum Instant {
    /// The longest RFC 3339 date-time with nanoseconds and an offset is 35 bytes.
    static let maximumLength = 40
    static let maximumFractionDigits = 9

    static func parse(_ text: String) -> Date? {
        // ICU's parser traps (SIGFPE) on a fraction of some thirty digits, and misreads one of
        // eleven: the text is held to RFC 3339's shape before it gets there.
        let utf8 = text.utf8
        guard utf8.count <= maximumLength, utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
        if let dot = utf8.firstIndex(of: UInt8(ascii: ".")) {
            let digits = utf8[utf8.index(after: dot)...].prefix(while: { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
            guard digits.count <= maximumFractionDigits else { return nil }
        }
        let plain = ISO8601DateFormatter()
        if let date = plain.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }

    static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
