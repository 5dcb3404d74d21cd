import EddyCore
import NIOCore

/// Long-polling: `value-wait` with `If-None-Match` and `Wait` for an object, the `changes-wait`
/// URI (whose `after=` is the checkpoint) for a collection. Objects follow values: changes made
/// while the client was away arrive as the latest value.
struct LongPollTransport {
    let state: LiveState
    let http: HTTPRequester
    let waitSeconds: Int

    func follow() async throws {
        let wait = [("Wait", String(waitSeconds))]
        // Longer than the wait, so the server's 304 (or `[]`) ends each poll, not the client.
        let timeout = TimeAmount.seconds(Int64(waitSeconds) + 15)
        while true {
            try Task.checkCancellation()
            if state.isCollection {
                guard let url = await state.changesURL else { throw LiveResourceError.transportNotOffered(.poll) }
                let answer = try await http.get(url, headers: wait, timeout: timeout)
                if answer.status == 404 { throw Follower.HistoryGone() }
                try check(answer)
                await state.connected()
                guard case .array(let items) = try JSONValue(parsing: answer.body) else { throw Follower.Disconnected() }
                let next = answer.links["changes"] ?? answer.links["changes-wait"]
                await state.itemsChanged(items, upTo: next.flatMap(ResourceURL.checkpoint(in:)), changesLink: next)
            } else {
                guard let url = await state.links["value-wait"] else { throw LiveResourceError.transportNotOffered(.poll) }
                var headers = wait
                if let etag = await state.position { headers.append(("If-None-Match", "\"\(etag)\"")) }
                let answer = try await http.get(url, headers: headers, timeout: timeout)
                switch answer.status {
                case 200:
                    await state.connected()
                    await state.objectChanged(to: try JSONValue(parsing: answer.body), at: answer.etag)
                case 304:
                    await state.connected()
                case 404:
                    await state.connected()
                    await state.objectChanged(to: nil, at: nil)
                    // A missing object cannot be waited on: ask again after a polling interval.
                    try await Task.sleep(for: .seconds(1))
                default:
                    try check(answer)
                }
            }
        }
    }

    private func check(_ answer: HTTPRequester.Answer) throws {
        if let refusal = Follower.refusal(answer.status, body: answer.body) { throw refusal }
        guard answer.status == 200 else { throw Follower.Disconnected() }
    }
}
