import Foundation
import EddyCore
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle

/// Turns a hub subscription into a `text/event-stream` response. The subscriber encodes each
/// event through `HubEvent.encoded`, so subscribers of one format share the bytes; the
/// connection's task only moves them to the socket and sends keep-alive comments.
struct EventStreamResponse: Sendable {
    let hub: Hub
    let bufferEvents: Int
    let ticker: KeepAliveTicker

    static let keepAliveFrame = ByteBuffer(string: ": keep-alive\n\n")

    /// One thing a stream watches, and how its events are framed.
    struct Source: Sendable {
        let filter: SubscriptionFilter
        let admits: (@Sendable (ResourcePath) -> Bool)?
        /// Names the encoding, so an event's bytes are shared by all subscribers of the format.
        let formatKey: String
        /// The SSE frame for one event (`id:`/`data:` lines and the blank line).
        let encode: @Sendable (ChangeEvent) -> String
    }

    func respond(
        filter: SubscriptionFilter,
        after: SequenceNumber?,
        principal: String?,
        admits: (@Sendable (ResourcePath) -> Bool)?,
        formatKey: String,
        encode: @escaping @Sendable (ChangeEvent) -> String,
        onHistoryUnavailable: @escaping @Sendable (StoreError) -> String
    ) async throws -> Response {
        try await respond(
            sources: [Source(filter: filter, admits: admits, formatKey: formatKey, encode: encode)], after: after,
            principal: principal, onHistoryUnavailable: onHistoryUnavailable)
    }

    /// A stream over several sources (multiplexing); `preamble` frames go first (for example
    /// an error for a source the caller may not read).
    func respond(
        sources: [Source],
        after: SequenceNumber?,
        principal: String?,
        preamble: [String] = [],
        onHistoryUnavailable: @escaping @Sendable (StoreError) -> String
    ) async throws -> Response {
        let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream(bufferingPolicy: .bufferingOldest(bufferEvents))
        var opening = ByteBuffer(string: ": eddy\n\n" + preamble.joined())
        var subscriptions: [HubSubscription] = []
        do {
            for source in sources {
                let sink = EventStreamSink(continuation: continuation, formatKey: source.formatKey, encode: source.encode)
                subscriptions.append(
                    try await hub.subscribe(source.filter, after: after, subscriber: sink, principal: principal, admits: source.admits))
            }
        } catch let error as StoreError {
            for subscription in subscriptions { subscription.cancel() }
            subscriptions = []
            continuation.finish()
            opening = ByteBuffer(string: onHistoryUnavailable(error))
        }
        if sources.isEmpty { continuation.finish() }
        let held = subscriptions
        let body = Self.body(
            stream, continuation, first: opening, ticker: ticker, keepAliveFrame: Self.keepAliveFrame,
            onEnd: { for subscription in held { subscription.cancel() } })
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", HTTPField.Name("X-Accel-Buffering")!: "no"],
            body: body)
    }
}

extension EventStreamResponse {
    /// The body of a long-lived stream: `first`, then whatever arrives on `stream`, with
    /// keep-alives from the shared ticker, until the stream finishes, `endAt` passes, the client
    /// goes away or the server shuts down; `onEnd` then releases what fed it.
    static func body(
        _ stream: AsyncStream<ByteBuffer>, _ continuation: AsyncStream<ByteBuffer>.Continuation, first: ByteBuffer?,
        ticker: KeepAliveTicker, keepAliveFrame: ByteBuffer, endAt: Date? = nil, onEnd: @escaping @Sendable () -> Void
    ) -> ResponseBody {
        ResponseBody { writer in
            let keepAlive = ticker.register { continuation.yield(keepAliveFrame) }
            defer {
                keepAlive.cancel()
                onEnd()
            }
            if let first { try await writer.write(first) }
            try await withGracefulShutdownHandler {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    if let endAt {
                        group.addTask {
                            try await Task.sleep(for: .seconds(max(0, endAt.timeIntervalSinceNow)))
                            continuation.finish()
                        }
                    }
                    for await chunk in stream { try await writer.write(chunk) }
                    group.cancelAll()
                }
            } onGracefulShutdown: {
                continuation.finish()
            }
            try await writer.finish(nil)
        }
    }
}

private final class EventStreamSink: HubSubscriber {
    let continuation: AsyncStream<ByteBuffer>.Continuation
    let formatKey: String
    let encode: @Sendable (ChangeEvent) -> String

    init(continuation: AsyncStream<ByteBuffer>.Continuation, formatKey: String, encode: @escaping @Sendable (ChangeEvent) -> String) {
        self.continuation = continuation
        self.formatKey = formatKey
        self.encode = encode
    }

    func receive(_ event: HubEvent) -> Bool {
        let frame = event.encoded(as: formatKey) { ByteBuffer(string: encode(event.change)) }
        if case .enqueued = continuation.yield(frame) { return true }
        return false
    }

    func hubDidDrop(reason: HubDropReason) {
        let frame = "event: error\ndata: " + JSONValue.quoted(reason.description) + "\n\n"
        continuation.yield(ByteBuffer(string: frame))
        continuation.finish()
    }
}

/// Builds the lines of one SSE event.
enum SSEFrame {
    static func make(id: String?, event: String? = nil, data: String) -> String {
        var out = ""
        if let event { out += "event: \(event)\n" }
        if let id { out += "id: \(id)\n" }
        for line in data.split(separator: "\n", omittingEmptySubsequences: false) {
            out += "data: \(line)\n"
        }
        return out + "\n"
    }
}
