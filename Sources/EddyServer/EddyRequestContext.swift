import Hummingbird
import NIOCore

/// Per-request context: Hummingbird's core storage plus the client's address, which the
/// limits key on for anonymous callers.
public struct EddyRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let clientAddress: String
    /// The connection (or HTTP/2 stream) the request arrived on: event streams write to it.
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
        self.channel = source.channel
    }
}
