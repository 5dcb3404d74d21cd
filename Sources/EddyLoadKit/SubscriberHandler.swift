import NIOCore

/// Where a subscriber connects, from a `scheme://host:port/path` URL.
struct Target: Sendable {
    var host: String
    var port: Int
    var pathAndQuery: String

    init(_ url: String) throws {
        guard let schemeEnd = url.range(of: "://") else { throw ResponseParser.Failure.malformed("URL \(url)") }
        let scheme = url[..<schemeEnd.lowerBound]
        let rest = url[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" }
        pathAndQuery = rest.dropFirst(authority.count).isEmpty ? "/" : String(rest.dropFirst(authority.count))
        if let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...]) {
            host = String(authority[..<colon])
            self.port = port
        } else {
            host = String(authority)
            port = scheme == "https" || scheme == "wss" ? 443 : 80
        }
    }

    var authority: String { "\(host):\(port)" }
}

/// One subscriber connection: sends its request, de-frames what comes back and counts the
/// stamped payloads in its loop's tally. Lives on one event loop; no task per connection.
final class SubscriberHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let kind: SubscriberKind
    private let target: Target
    private let headers: [String]
    private let webSocketProtocol: String?
    private let webSocketSubscribe: String?
    private let topic: Int
    private let tally: LoopTally
    private let ready: EventLoopPromise<Void>
    private var parser = ResponseParser()
    private var scanner = PayloadScanner()
    private var seen = SeenSet()
    private var payloads: [(t: UInt64, isNew: Bool)] = []
    private var isReady = false
    private var validators: [String] = []

    init(
        spec: SubscriberSpec, target: Target, topic: Int, tally: LoopTally, ready: EventLoopPromise<Void>
    ) {
        kind = spec.kind
        self.target = target
        headers = spec.headers
        webSocketProtocol = spec.webSocketProtocol
        webSocketSubscribe = spec.webSocketSubscribe.map { fill($0, topic: topic) }
        self.topic = topic
        self.tally = tally
        self.ready = ready
    }

    func channelActive(context: ChannelHandlerContext) {
        var head = "GET \(target.pathAndQuery) HTTP/1.1\r\nHost: \(target.authority)\r\n"
        switch kind {
        case .sse:
            head += "Accept: text/event-stream\r\n"
        case .ws:
            head += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ZWRkeS1sb2FkLWJlbmNoIQ==\r\nSec-WebSocket-Version: 13\r\n"
            if let webSocketProtocol { head += "Sec-WebSocket-Protocol: \(webSocketProtocol)\r\n" }
        case .longpoll:
            for validator in validators { head += validator + "\r\n" }
        }
        for line in headers { head += line + "\r\n" }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: head + "\r\n")), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        do {
            try parser.feed(&buffer) { event in handle(event, context: context) }
        } catch {
            fail("\(error)", context: context)
        }
    }

    private func handle(_ event: ResponseParser.Event, context: ChannelHandlerContext) {
        switch event {
        case .head(let head):
            let acceptable = switch kind {
            case .sse: head.status == 200
            case .ws: head.status == 101
            case .longpoll: head.status == 200 || head.status == 304
            }
            guard acceptable else {
                fail("status \(head.status)", context: context)
                return
            }
            if kind == .longpoll {
                validators = []
                if let etag = head.headers["etag"] { validators.append("If-None-Match: \(etag)") }
                if let modified = head.headers["last-modified"] { validators.append("If-Modified-Since: \(modified)") }
            }
            if kind == .ws, let webSocketSubscribe {
                send(frame: 0x1, payload: Array(webSocketSubscribe.utf8), context: context)
            } else {
                markReady()
            }
        case .body(let body):
            consume(body)
        case .end:
            if kind == .longpoll {
                // The next poll, carrying what this answer said we have.
                channelActive(context: context)
            } else {
                context.close(promise: nil)
            }
        case .frame(let opcode, let payload):
            switch opcode {
            case 0x0, 0x1, 0x2:
                markReady()
                consume(payload)
            case 0x8:
                context.close(promise: nil)
            case 0x9:
                send(frame: 0xA, payload: Array(payload.readableBytesView), context: context)
            default:
                break
            }
        }
    }

    private func consume(_ buffer: ByteBuffer) {
        // Locals, not properties, inside the per-payload closure: each property access there
        // is a dynamic exclusivity check.
        var seen = self.seen
        self.seen = SeenSet()
        let notBefore = tally.notBefore
        // Kept between reads, so a read is not an allocation.
        var payloads = self.payloads
        self.payloads = []
        payloads.removeAll(keepingCapacity: true)
        scanner.scan(buffer) { t, n in
            payloads.append((t, t < notBefore ? false : seen.insert(Int(n))))
        }
        self.seen = seen
        if !payloads.isEmpty { tally.record(payloads, topic: topic, now: nowNanoseconds()) }
        self.payloads = payloads
    }

    private func markReady() {
        guard !isReady else { return }
        isReady = true
        tally.tally.connected += 1
        tally.tally.subscribersByTopic[topic] += 1
        ready.succeed(())
    }

    private func fail(_ why: String, context: ChannelHandlerContext) {
        if tally.tally.firstError == nil { tally.tally.firstError = why }
        ready.fail(ResponseParser.Failure.malformed(why))
        context.close(promise: nil)
    }

    /// Client frames must be masked; the key need not be secret against our own server.
    private func send(frame opcode: UInt8, payload: [UInt8], context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: payload.count + 14)
        buffer.writeInteger(0x80 | opcode)
        if payload.count < 126 {
            buffer.writeInteger(UInt8(0x80 | payload.count))
        } else if payload.count <= 0xFFFF {
            buffer.writeInteger(UInt8(0x80 | 126))
            buffer.writeInteger(UInt16(payload.count))
        } else {
            buffer.writeInteger(UInt8(0x80 | 127))
            buffer.writeInteger(UInt64(payload.count))
        }
        let mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
        buffer.writeBytes(mask)
        buffer.writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset & 3] })
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if isReady && !tally.stopping { tally.tally.disconnected += 1 }
        ready.fail(ResponseParser.Failure.malformed("closed before it was ready"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail("\(error)", context: context)
    }
}
