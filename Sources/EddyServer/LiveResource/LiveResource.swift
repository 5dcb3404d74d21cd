import EddyCore
import HTTPTypes
import Hummingbird

/// LiveResource's long-polling on resources themselves: `value-wait` on objects and
/// `changes`/`changes-wait` on collections, plus the Link headers that announce every mechanism.
struct LiveResource: Sendable {
    let store: any ResourceStore
    let hub: Hub
    let access: AccessController
    let maximumWaitSeconds: Double

    // MARK: Objects

    /// GET of an object with `If-None-Match` and `Wait`: answers at once when the client's
    /// ETag is stale, else holds the request until the object changes (200), is deleted (404),
    /// or time runs out (304).
    func valueWait(path: ResourcePath, ifNoneMatch: ETagCondition, seconds: Double, exchange: Exchange) async throws -> Response {
        let poll = LongPoll()
        defer { poll.cancel() }
        try await poll.watch([.value(path)], hub: hub, principal: exchange.identity.subject, admits: [nil])
        // Looked at only after subscribing: a write in between is then seen either here or as an event.
        var lastSeen: ETag?
        let changed = try await poll.answer(within: seconds) { () async throws -> StoredResource? in
            guard let current = try await store.resource(at: path) else { throw Problem.notFound(path.description) }
            lastSeen = current.etag
            return ifNoneMatch.matches(current.etag) ? nil : current
        }
        if let changed {
            return objectResponse(changed.value, etag: changed.etag, path: path, exchange: exchange)
        }
        var headers = linkHeaders(LiveEndpoints.objectLinks(exchange.baseURL, path))
        headers[.eTag] = lastSeen?.headerValue
        headers[.contentLength] = "0"
        return Response(status: .notModified, headers: headers)
    }

    func objectResponse(_ value: String, etag: ETag, path: ResourcePath, exchange: Exchange) -> Response {
        var headers = linkHeaders(LiveEndpoints.objectLinks(exchange.baseURL, path))
        headers[.eTag] = etag.headerValue
        return .json(.ok, value, headers: headers)
    }

    // MARK: Collections

    /// GET of a collection's changes URI: the children changed after the checkpoint, with the
    /// next checkpoint's links; with `Wait`, held until there is at least one change.
    func changes(
        collection: ResourcePath, after raw: Substring, max: Int, waitSeconds: Double?, exchange: Exchange
    ) async throws -> Response {
        let checkpoint = try ChangesFeed.checkpoint(raw, epoch: store.epoch)
        let filter = SubscriptionFilter.children(collection)
        let admits = access.eventAdmission(for: filter, identity: exchange.identity)
        var poll: LongPoll?
        defer { poll?.cancel() }
        var ready: (visible: [ChangeEvent], next: Checkpoint)?
        if let waitSeconds {
            let watching = LongPoll()
            try await watching.watch([filter], hub: hub, principal: exchange.identity.subject, admits: [admits])
            poll = watching
            // Read only after subscribing: a change in between is then either read or awaited.
            ready = try await watching.answer(within: waitSeconds) {
                let now = try await ChangesFeed.read(store, collection: collection, after: checkpoint, admits: admits, limit: max)
                return now.visible.isEmpty ? nil : now
            }
        }
        let page: (visible: [ChangeEvent], next: Checkpoint)
        if let ready {
            page = ready
        } else {
            page = try await ChangesFeed.read(store, collection: collection, after: checkpoint, admits: admits, limit: max)
        }
        let headers = linkHeaders(LiveEndpoints.collectionLinks(exchange.baseURL, collection, checkpoint: page.next, max: max))
        return .json(.ok, ChangesFeed.body(page.visible), headers: headers)
    }

    /// The current position, taken before a listing is read, so nothing written after the
    /// listing can fall before the checkpoint handed out with it.
    func currentCheckpoint() async throws -> Checkpoint {
        Checkpoint(epoch: store.epoch, sequence: try await store.headSequence())
    }

    func linkHeaders(_ links: [String]) -> HTTPFields {
        var headers = HTTPFields()
        for link in links { headers.append(HTTPField(name: .link, value: link)) }
        return headers
    }
}
