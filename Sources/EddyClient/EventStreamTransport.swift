import EddyCore
import NIOCore

/// Server-sent events: `value-stream` (each event the object's JSON, empty when deleted) or
/// `changes-stream` (each event an array of changed items). Event ids are positions, so
/// `Last-Event-ID` resumes with every change since, and a `reset` event means the server no
/// longer holds them.
struct EventStreamTransport {
    let state: LiveState
    let http: HTTPRequester

    func follow() async throws {
        let relation = state.isCollection ? "changes-stream" : "value-stream"
        guard let url = await state.links[relation] else { throw LiveResourceError.transportNotOffered(.sse) }
        var headers = [("Accept", "text/event-stream")]
        if let position = await state.position { headers.append(("Last-Event-ID", position)) }
        let response = try await http.open(url, headers: headers)
        if let refusal = Follower.refusal(Int(response.status.code), body: "") { throw refusal }
        guard response.status.code == 200 else { throw Follower.Disconnected() }
        await state.connected()
        var parser = ServerSentEvents()
        for try await chunk in response.body {
            for event in parser.feed(chunk.readableBytesView) {
                try await deliver(event)
            }
        }
        throw Follower.Disconnected()
    }

    private func deliver(_ event: ServerSentEvents.Event) async throws {
        switch event.name {
        case nil, "message"?: break
        case "reset"?: throw Follower.HistoryGone()
        // Anything else (an `error` when the server dropped this stream): reconnect and resume.
        default: throw Follower.Disconnected()
        }
        if state.isCollection {
            guard case .array(let items) = try JSONValue(parsing: event.data) else { throw Follower.Disconnected() }
            await state.itemsChanged(items, upTo: event.id)
        } else {
            await state.objectChanged(to: event.data.isEmpty ? nil : try JSONValue(parsing: event.data), at: event.id)
        }
    }
}
