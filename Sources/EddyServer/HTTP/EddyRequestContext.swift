import EddyCore
import Hummingbird
import NIOCore

/// Per-request context: Hummingbird's core storage plus what Eddy's middleware settles before a
/// handler runs.
public struct EddyRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let clientAddress: String
    /// The connection (or HTTP/2 stream) the request arrived on: event streams write to it.
    let channel: any Channel
    /// The path exactly as the client sent it, percent-encoding and all.
    var rawPath = "/"
    /// Who asks and how they reached the server; set by `IdentityMiddleware`.
    var exchange: Exchange?
    /// The resource a resource route acts on, parsed once by `ResourceAccessMiddleware`.
    var resourcePath: ResourcePath?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
        self.channel = source.channel
    }


    /// The identified exchange; only routes behind `IdentityMiddleware` ask for it.
    func identified() throws -> Exchange {
        guard let exchange else {
            throw Problem(.internalServerError, "internal", "the route was reached without identification")
        }
        return exchange
    }
}
