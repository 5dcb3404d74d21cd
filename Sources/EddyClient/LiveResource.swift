import AsyncHTTPClient

/// A web resource followed live: iterate it to get its value (or a collection's listing) and
/// then every change, as `LiveResourceEvent`s. The client discovers what the server offers from
/// the resource's `Link` headers, prefers the multiplex WebSocket, then server-sent events, then
/// long-polling, and falls back to the next one when a transport cannot be opened. It reconnects
/// on its own and resumes from the last position it reported (ETag, checkpoint or event id), so
/// nothing is reported twice and, where the server still holds the history, nothing is lost;
/// where it does not, a `.resynced` event says so and the client starts over.
///
///     for try await event in LiveResource("http://127.0.0.1:8080/notes/") {
///         if case .childAdded(let item) = event.kind { print(item) }
///     }
///
/// Iteration ends with an error only when the server refuses the resource for good (404 on the
/// first fetch, 401, 403) or the asked transport is not offered; stopping the iteration (or
/// cancelling its task) closes the connection.
public struct LiveResource: AsyncSequence, Sendable {
    public typealias Element = LiveResourceEvent

    public struct Options: Sendable {
        /// One transport to use; nil picks the best the resource offers.
        public var transport: LiveTransport?
        /// Sent as `Authorization: Bearer …` on every request and on the WebSocket handshake.
        public var token: String?
        /// The `Wait` of long-polls; servers cap it (Eddy at 55 s).
        public var waitSeconds: Int
        /// The longest pause between reconnection attempts (the pause doubles from 0.25 s).
        public var maximumRetryDelay: Duration
        public var httpClient: HTTPClient

        public init(
            transport: LiveTransport? = nil, token: String? = nil, waitSeconds: Int = 55,
            maximumRetryDelay: Duration = .seconds(5), httpClient: HTTPClient = .shared
        ) {
            self.transport = transport
            self.token = token
            self.waitSeconds = waitSeconds
            self.maximumRetryDelay = maximumRetryDelay
            self.httpClient = httpClient
        }
    }

    public let url: String
    public let options: Options

    /// - Parameter url: an object (`…/notes/first`) or a collection (`…/notes/`, optionally with
    ///   the listing's query, e.g. `?max=20`).
    public init(_ url: String, options: Options = Options()) {
        self.url = url
        self.options = options
    }

    public func makeAsyncIterator() -> AsyncThrowingStream<LiveResourceEvent, any Error>.Iterator {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: LiveResourceEvent.self)
        let follower = Follower(url: url, options: options)
        let task = Task { await follower.run(reportingTo: continuation) }
        continuation.onTermination = { _ in task.cancel() }
        return stream.makeAsyncIterator()
    }
}
