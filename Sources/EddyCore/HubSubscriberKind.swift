/// The protocol and transport a hub subscriber serves, as metric labels. Each subscriber type
/// names its own (`HubSubscriber.kind`), so a new type cannot go uncounted or be counted
/// under another's label by a change of its name.
public struct HubSubscriberKind: Hashable, Sendable {
    public let protocolName: String
    public let transport: String

    public init(protocolName: String, transport: String) {
        self.protocolName = protocolName
        self.transport = transport
    }

    /// A stream read in the same process (`Hub.events`), not a client's connection.
    public static let inProcess = HubSubscriberKind(protocolName: "internal", transport: "in-process")
}
