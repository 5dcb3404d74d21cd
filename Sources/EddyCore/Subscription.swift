/// Who watches, as the hub needs to know it: the principal it re-checks when the access
/// policy changes, and the admission it asks for every event below the watched anchor (a
/// stricter rule may hide a child of a collection the principal may read). Built for an
/// identity by the server's access controller, so a protocol adapter cannot forget a part.
public struct Watcher: Sendable {
    /// The subject, nil for anonymous.
    public let principal: String?
    /// Whether a policy reload may revoke the subscription (not the server's own work).
    public let answersToPolicy: Bool
    /// Whether the principal may see an event at this path; nil admits every event.
    public let admits: (@Sendable (ResourcePath) -> Bool)?

    public init(principal: String?, admits: @escaping @Sendable (ResourcePath) -> Bool) {
        self.principal = principal
        self.answersToPolicy = true
        self.admits = admits
    }

    private init(server: Void) {
        principal = nil
        answersToPolicy = false
        admits = nil
    }

    /// The server's own watching (a delivery worker's wake-up, tests): sees everything and is
    /// never revoked. No client request may subscribe as it.
    public static let server = Watcher(server: ())
}

/// What a subscription is, whichever protocol asked for it: what it watches, who watches,
/// from where in the log, and for how long and how often. The hub is given one of these and
/// owns the rest — replay then live without gap or duplicate, per-event admission, the bounded
/// buffer, revocation on policy reload, and the end at `pace.endAt`.
public struct Subscription: Sendable {
    public let filter: SubscriptionFilter
    public let watcher: Watcher
    public var start: ResumePosition
    public var pace: DeliveryPace

    public init(_ filter: SubscriptionFilter, watcher: Watcher, from start: ResumePosition = .now, pace: DeliveryPace = .unpaced) {
        self.filter = filter
        self.watcher = watcher
        self.start = start
        self.pace = pace
    }

    /// The admission the hub applies: none for a single value, whose anchor check at the start
    /// and on reload covers every event it can get.
    public var eventAdmission: (@Sendable (ResourcePath) -> Bool)? {
        if case .value = filter { return nil }
        return watcher.admits
    }
}
