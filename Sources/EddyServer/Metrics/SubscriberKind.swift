import EddyCore

/// The labels the server's subscriber types declare (`HubSubscriber.kind`). An SSE stream's
/// sink is shared by the event log, LiveResource streams and Solid's streaming channel: those
/// count together as `eventstream`/`sse`.
typealias SubscriberKind = HubSubscriberKind

extension HubSubscriberKind {
    static let eventStream = SubscriberKind(protocolName: "eventstream", transport: "sse")
    static let multiplex = SubscriberKind(protocolName: "liveresource", transport: "multiplex")
    static let liveResourceSocket = SubscriberKind(protocolName: "liveresource", transport: "websocket")
    static let longPoll = SubscriberKind(protocolName: "liveresource", transport: "longpoll")
    static let concrnt = SubscriberKind(protocolName: "concrnt", transport: "websocket")
    static let solidNotifications = SubscriberKind(protocolName: "solid", transport: "notification-channel")
    static let solidLegacy = SubscriberKind(protocolName: "solid", transport: "solid-0.1")
    static let webhook = SubscriberKind(protocolName: "webhook", transport: "http-callback")

    /// Every kind, so a kind with no subscribers still reads 0 rather than vanishing.
    static let all: [SubscriberKind] = [
        .eventStream, .multiplex, .liveResourceSocket, .longPoll, .concrnt, .solidNotifications, .solidLegacy, .webhook, .inProcess,
    ]

    /// Always 0, as every subscriber type declares its kind; still exported so that the
    /// metric's set of series stays the same for dashboards and alerts built on it.
    static let other = SubscriberKind(protocolName: "other", transport: "other")
}
