/// What the hub tells whoever counts its work (the server's metrics). EddyCore has no
/// dependencies, so the hub reports through closures rather than a metrics library.
/// `published` is called once per publish, not once per subscriber, so counting deliveries
/// adds nothing per subscriber to the fan-out.
public struct HubObserver: Sendable {
    /// One publish: how many events it carried, and how many (subscriber, event) offers it
    /// made to live subscribers.
    public var published: @Sendable (_ events: Int, _ offers: Int) -> Void
    /// A subscriber was dropped, and why.
    public var dropped: @Sendable (HubDropReason) -> Void

    public init(
        published: @escaping @Sendable (_ events: Int, _ offers: Int) -> Void,
        dropped: @escaping @Sendable (HubDropReason) -> Void
    ) {
        self.published = published
        self.dropped = dropped
    }
}
