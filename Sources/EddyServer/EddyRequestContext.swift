import Hummingbird
import NIOCore

/// Per-request context: Hummingbird's core storage plus the client's address, which the
/// limits key on for anonymous callers.
public struct EddyRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let clientAddress: String

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}
