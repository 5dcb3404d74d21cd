import HummingbirdCore
import HummingbirdHTTP2
import Logging
import NIOCore
import NIOHTTP2
import NIOSSL
import NIOTLS

/// TLS with the protocol chosen by ALPN: HTTP/2 for browsers (many event streams over one
/// connection), HTTP/1.1 — with WebSocket upgrades — for everyone else. Hummingbird's own
/// HTTP/2 channel offers only plain HTTP/1.1 as the fallback, which would lose `wss://`.
struct SecureHTTPChannel<HTTP1: ServerChildChannel>: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<NIONegotiatedHTTPVersion<HTTP1.Value, HTTP2Channel.Value>>
        let channel: any Channel
    }

    let sslContext: NIOSSLContext
    let http1: HTTP1
    let http2: HTTP2Channel
    let firstRequest: FirstRequestHandlers
    let mailboxes: FrameMailboxes

    init(tlsConfiguration: TLSConfiguration, http1: HTTP1, http2: HTTP2Channel, firstRequest: FirstRequestHandlers,
        mailboxes: FrameMailboxes)
        throws
    {
        self.firstRequest = firstRequest
        self.mailboxes = mailboxes
        var tlsConfiguration = tlsConfiguration
        tlsConfiguration.applicationProtocols = ["h2", "http/1.1"]
        self.sslContext = try NIOSSLContext(configuration: tlsConfiguration)
        self.http1 = http1
        self.http2 = http2
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let http1 = self.http1
        let http2 = self.http2
        let mailboxes = self.mailboxes
        let firstRequest = self.firstRequest
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
            try channel.pipeline.syncOperations.addHandler(firstRequest.makeGuard())
            let negotiation = NIOTypedApplicationProtocolNegotiationHandler<NIONegotiatedHTTPVersion<HTTP1.Value, HTTP2Channel.Value>> { result in
                switch result {
                case .negotiated("h2"):
                    return http2.setup(channel: channel, logger: logger).map { .http2($0) }
                case .negotiated("http/1.1"), .fallback:
                    // HTTP/1.1 event streams are written from the pipeline; HTTP/2 ones keep their task.
                    do {
                        try channel.pipeline.syncOperations.addHandler(EventStreamHandoff(mailbox: mailboxes.mailbox(for: channel.eventLoop)))
                    } catch {
                        return channel.eventLoop.makeFailedFuture(error)
                    }
                    return http1.setup(channel: channel, logger: logger).flatMapThrowing { value in
                        try firstRequest.addOutcomeHandler(to: channel)
                        return .http1_1(value)
                    }
                case .negotiated:
                    return channel.close().flatMap { channel.eventLoop.makeFailedFuture(NIOHTTP2Errors.invalidALPNToken()) }
                }
            }
            try channel.pipeline.syncOperations.addHandler(negotiation)
            return Value(negotiated: negotiation.protocolNegotiationResult, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.negotiated.get() {
            case .http1_1(let connection): await http1.handle(value: connection, logger: logger)
            case .http2(let connection): await http2.handle(value: connection, logger: logger)
            }
        } catch {
            logger.debug("TLS connection ended before a protocol was agreed", metadata: ["error": "\(error)"])
        }
    }
}
