import EddyCore

/// The reconnecting loop behind a `LiveResource`: fetch the resource, follow it with the best
/// transport it offers, and when that connection drops, pause (doubling up to a limit) and
/// resume from the last position; start over when the server no longer holds that position.
struct Follower: Sendable {
    let url: String
    let options: LiveResource.Options

    /// Thrown by a transport when the server no longer holds the changes after the client's
    /// position (404 on a changes URI, a `reset` stream event, a 404 error on the socket).
    struct HistoryGone: Error {}
    /// Thrown by a transport whose connection ended; the follower reconnects.
    struct Disconnected: Error {}

    static let preference: [LiveTransport] = [.webSocket, .sse, .poll]

    func run(reportingTo continuation: AsyncThrowingStream<LiveResourceEvent, any Error>.Continuation) async {
        let state = LiveState(url: url, continuation: continuation)
        let http = HTTPRequester(client: options.httpClient, token: options.token)
        do {
            try await fetch(state, http: http, resynced: false)
            var delay = Duration.milliseconds(250)
            reconnecting: while !Task.isCancelled {
                let links = await state.links
                let offered = Self.preference.filter { links[Self.linkRelation(for: $0, collection: state.isCollection)] != nil }
                let candidates = options.transport.map { [$0] } ?? offered
                if let forced = options.transport, !offered.contains(forced) { throw LiveResourceError.transportNotOffered(forced) }
                // The best transport first; one that cannot even be opened hands over to the next.
                for transport in candidates {
                    await state.connecting()
                    do {
                        try await follow(transport, state: state, http: http)
                    } catch is HistoryGone {
                        try await fetch(state, http: http, resynced: true)
                        delay = .milliseconds(250)
                        continue reconnecting
                    } catch let error as LiveResourceError {
                        throw error
                    } catch is CancellationError {
                        throw CancellationError()
                    } catch {
                        if await state.isConnected {
                            delay = .milliseconds(250)
                            break
                        }
                    }
                }
                try await Task.sleep(for: delay)
                delay = min(delay * 2, options.maximumRetryDelay)
            }
            continuation.finish()
        } catch is CancellationError {
            continuation.finish()
        } catch {
            continuation.finish(throwing: error)
        }
    }

    /// GET of the resource, retried until the server answers. The first fetch must find the
    /// resource; a later one may find a deleted object.
    private func fetch(_ state: LiveState, http: HTTPRequester, resynced: Bool) async throws {
        var delay = Duration.milliseconds(250)
        while true {
            try Task.checkCancellation()
            do {
                let answer = try await http.get(url)
                if answer.status == 200 || (answer.status == 404 && resynced && !state.isCollection) {
                    await state.start(from: answer, resynced: resynced)
                    return
                }
                if answer.status < 500 { throw LiveResourceError.status(code: answer.status, body: answer.body) }
            } catch let error as LiveResourceError {
                throw error
            } catch {
                // The server is not reachable yet: try again.
            }
            try await Task.sleep(for: delay)
            delay = min(delay * 2, options.maximumRetryDelay)
        }
    }

    private func follow(_ transport: LiveTransport, state: LiveState, http: HTTPRequester) async throws {
        switch transport {
        case .poll: try await LongPollTransport(state: state, http: http, waitSeconds: options.waitSeconds).follow()
        case .sse: try await EventStreamTransport(state: state, http: http).follow()
        case .webSocket: try await WebSocketTransport(state: state, token: options.token).follow()
        }
    }

    static func linkRelation(for transport: LiveTransport, collection: Bool) -> String {
        switch transport {
        case .poll: collection ? "changes-wait" : "value-wait"
        case .sse: collection ? "changes-stream" : "value-stream"
        case .webSocket: "multiplex-ws"
        }
    }

    /// Refusals that retrying will not change.
    static func refusal(_ status: Int, body: String) -> LiveResourceError? {
        status == 401 || status == 403 ? .status(code: status, body: body) : nil
    }
}
