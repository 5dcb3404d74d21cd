import Foundation
import EddyCore
import HTTPTypes
import Hummingbird
import NIOCore

/// Turns a hub subscription into a `text/event-stream` response. The subscriber encodes each
/// event through `HubEvent.encoded`, so subscribers of one format share the bytes; the
/// `StreamOutlet` moves them to the socket, with keep-alive comments from the shared ticker.
struct EventStreamResponse: Sendable {
    let hub: Hub
    let bufferEvents: Int
    let ticker: KeepAliveTicker

    static let keepAliveFrame = ByteBuffer(string: ": keep-alive\n\n")

    /// One thing a stream watches, and how its events are framed.
    struct Source: Sendable {
        let filter: SubscriptionFilter
        /// Names the encoding, so an event's bytes are shared by all subscribers of the format.
        let formatKey: EncodingKey<ByteBuffer>
        /// The SSE frame for one event (`id:`/`data:` lines and the blank line).
        let encode: @Sendable (ChangeEvent) -> String
    }

    func respond(
        filter: SubscriptionFilter,
        from start: Result<ResumePosition, StartOver>,
        watcher: Watcher,
        connection: (any Channel)?,
        formatKey: EncodingKey<ByteBuffer>,
        encode: @escaping @Sendable (ChangeEvent) -> String
    ) async throws -> Response {
        try await respond(
            sources: [Source(filter: filter, formatKey: formatKey, encode: encode)], from: start, watcher: watcher, connection: connection)
    }

    /// A stream over several sources (multiplexing); `preamble` frames go first (for example
    /// an error for a source the caller may not read). A client that cannot resume where it
    /// asked gets a stream of one `reset` event (`SSEFrame.startOver`), whether its token was
    /// foreign or the log no longer holds what follows it.
    func respond(
        sources: [Source],
        from start: Result<ResumePosition, StartOver>,
        watcher: Watcher,
        preamble: [String] = [],
        connection: (any Channel)?
    ) async throws -> Response {
        let outlet = await StreamOutlet.open(on: connection, capacity: bufferEvents)
        var opening = ByteBuffer(string: ": eddy\n\n" + preamble.joined())
        var subscriptions: [HubSubscription] = []
        do {
            // A stream of one source takes a publish's events at once; several share the
            // outlet and so take them one at a time, in log order across all of them.
            let sinks = sources.map {
                EventStreamSink(outlet: outlet, formatKey: $0.formatKey, encode: $0.encode, takesBatches: sources.count == 1)
            }
            subscriptions = try await hub.subscribe(
                SubscriptionGroup(sources.map(\.filter), watcher: watcher, from: try start.get()), subscribers: sinks)
        } catch {
            guard let startOver = StartOver(error) else { throw error }
            outlet.finish()
            opening = ByteBuffer(string: SSEFrame.startOver(startOver))
        }
        if sources.isEmpty { outlet.finish() }
        let release: @Sendable () -> Void
        if subscriptions.count == 1 {
            // One subscription (the usual case) needs no array kept for the stream's life.
            let only = subscriptions[0]
            release = { only.cancel() }
        } else {
            let held = subscriptions
            release = { for subscription in held { subscription.cancel() } }
        }
        return outlet.response(
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", HTTPField.Name("X-Accel-Buffering")!: "no"],
            first: opening, ticker: ticker, keepAliveFrame: Self.keepAliveFrame,
            onEnd: release)
    }
}

private final class EventStreamSink: HubSubscriber {
    /// Only the multiplex stream watches several sources, so a sink that shares its outlet
    /// (one that takes no batches) serves it.
    var kind: HubSubscriberKind { takesBatches ? .eventStream : .multiplex }
    let outlet: StreamOutlet
    /// A stream of one subscription takes a publish's events at once: one frame for all of
    /// them, built once for every stream of the same filter and format.
    let takesBatches: Bool
    let formatKey: EncodingKey<ByteBuffer>
    let encode: @Sendable (ChangeEvent) -> String

    init(outlet: StreamOutlet, formatKey: EncodingKey<ByteBuffer>, encode: @escaping @Sendable (ChangeEvent) -> String, takesBatches: Bool) {
        self.outlet = outlet
        self.formatKey = formatKey
        self.encode = encode
        self.takesBatches = takesBatches
    }

    func receive(_ event: HubEvent) -> Bool {
        outlet.send(frame(of: event))
    }

    func receive(batch: HubEventBatch) -> Bool {
        if batch.events.count == 1 { return receive(batch.events[0]) }
        return outlet.send(
            batch.encoded(as: formatKey) {
                var joined = ByteBuffer()
                for event in batch.events { joined.writeImmutableBuffer(frame(of: event)) }
                return joined
            })
    }

    private func frame(of event: HubEvent) -> ByteBuffer {
        event.encoded(as: formatKey) { ByteBuffer(string: encode(event.change)) }
    }

    func hubDidDrop(reason: HubDropReason) {
        outlet.finish(last: ByteBuffer(string: SSEFrame.dropped(reason)))
    }
}

/// Builds the lines of one SSE event.
enum SSEFrame {
    /// The event every stream sends a client that cannot resume: start over from a fresh GET.
    /// Its empty `id` clears an EventSource's last event id, so the browser's own reconnection
    /// starts afresh instead of sending the dead position again.
    static func startOver(_ startOver: StartOver) -> String {
        make(id: "", event: "reset", data: "{\"reason\":" + JSONValue.quoted(startOver.description) + "}")
    }

    /// The last event of a stream the hub dropped: why it ends, so a client can tell a stream it
    /// should reopen (too slow, server shutting down) from one it may no longer read.
    static func dropped(_ reason: HubDropReason) -> String {
        "event: error\ndata: " + JSONValue.quoted(reason.description) + "\n\n"
    }

    static func make(id: String?, event: String? = nil, data: String) -> String {
        var out = ""
        if let event { out += "event: \(event)\n" }
        if let id { out += "id: \(id)\n" }
        // Compact JSON has no line break: one `data:` line, without splitting. A body stored as
        // its client wrote it may hold any line end SSE knows (CR, LF, CRLF): each starts a new
        // `data:` line, or a reader would take the rest of the line for a field of its own. Split
        // by bytes: CRLF is one `Character`, which a split at "\n" would not cut.
        let utf8 = data.utf8
        let isLineEnd = { (byte: UInt8) in byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") }
        guard utf8.contains(where: isLineEnd) else { return out + "data: " + data + "\n\n" }
        var rest = utf8[...]
        while let end = rest.firstIndex(where: isLineEnd) {
            out += "data: " + String(Substring(rest[..<end])) + "\n"
            var next = utf8.index(after: end)
            if utf8[end] == UInt8(ascii: "\r"), next < utf8.endIndex, utf8[next] == UInt8(ascii: "\n") { next = utf8.index(after: next) }
            rest = utf8[next...]
        }
        return out + "data: " + String(Substring(rest)) + "\n\n"
    }
}
