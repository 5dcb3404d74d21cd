import EddyCore

/// The protocol and transport a hub subscriber serves, as metric labels. Subscribers are told
/// apart by their type, so the adapters need not know about metrics. An SSE stream's sink is
/// shared by the event log, LiveResource streams and Solid's streaming channel: those count
/// together as `eventstream`/`sse`.
struct SubscriberKind: Hashable, Sendable {
    let protocolName: String
    let transport: String

    /// Every kind, so a kind with no subscribers still reads 0 rather than vanishing.
    static let all: [SubscriberKind] = [
        .init(protocolName: "eventstream", transport: "sse"),
        .init(protocolName: "liveresource", transport: "multiplex"),
        .init(protocolName: "liveresource", transport: "websocket"),
        .init(protocolName: "liveresource", transport: "longpoll"),
        .init(protocolName: "concrnt", transport: "websocket"),
        .init(protocolName: "solid", transport: "notification-channel"),
        .init(protocolName: "webhook", transport: "http-callback"),
        .init(protocolName: "internal", transport: "in-process"),
    ]

    static let other = SubscriberKind(protocolName: "other", transport: "other")

    /// Matched on the type's qualified name, whose nesting (`LongPoll.Sink`) tells types of
    /// the same short name apart.
    init(of type: any HubSubscriber.Type) {
        let name = String(reflecting: type)
        func named(_ parts: String...) -> Bool { parts.allSatisfy { name.contains($0) } }
        self =
            if named("EventStreamSink") { Self.all[0] }
            else if named("GatedSubscriber") { Self.all[1] }
            else if named("MultiplexSocket", "EventSink") { Self.all[2] }
            else if named("LongPoll", "Sink") { Self.all[3] }
            else if named("ConcrntRealtime", "Sink") { Self.all[4] }
            else if named("NotificationFeed") { Self.all[5] }
            else if named("DeliveryWorker", "Wakeup") { Self.all[6] }
            else if named("StreamSubscriber") { Self.all[7] }
            else { Self.other }
    }

    private init(protocolName: String, transport: String) {
        self.protocolName = protocolName
        self.transport = transport
    }

    /// The hub's subscribers counted by kind (for the metrics and the status stream alike).
    static func counts(in hub: Hub) -> [SubscriberKind: Int] {
        var counts: [SubscriberKind: Int] = [:]
        for (_, entry) in hub.subscriberCountsByType() {
            counts[SubscriberKind(of: entry.type), default: 0] += entry.count
        }
        return counts
    }
}
