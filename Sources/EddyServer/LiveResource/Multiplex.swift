import EddyCore
import HTTPTypes
import Hummingbird

/// `multiplex-wait` and `multiplex-stream`: many resources in one long-poll or one SSE stream.
/// Resources come as `?u=<uri>&inm=<etag>` pairs or, in the later dialect, as `Uri` headers
/// paired in order with `If-None-Match` headers. A resource the caller may not read is
/// answered with its 401/403 in place, never with its data.
struct Multiplex: Sendable {
    let store: any ResourceStore
    let hub: Hub
    let access: AccessController
    let streams: EventStreamResponse
    let maximumWaitSeconds: Double
    let maximumResources: Int
    let defaultChangesLimit: Int

    struct Target: Sendable {
        /// The URI exactly as the client sent it: the key of its entry in the response.
        let uri: String
        let path: ResourcePath
        let ifNoneMatch: ETagCondition?
        let after: Substring?
        let max: Int
    }

    // MARK: Parsing

    func targets(_ request: Request) throws -> [Target] {
        var pairs: [(uri: String, inm: String?)] = []
        for (key, value) in request.uri.queryParameters {
            if key == "u" {
                pairs.append((String(value), nil))
            } else if key == "inm", !pairs.isEmpty {
                pairs[pairs.count - 1].inm = String(value)
            }
        }
        if pairs.isEmpty {
            let uris = request.headers[values: HTTPField.Name("Uri")!].flatMap { $0.split(separator: ",") }
            let tags = request.headers[values: .ifNoneMatch].flatMap { $0.split(separator: ",") }
            for (index, raw) in uris.enumerated() {
                let trimmed = raw.trimmingCharacters(in: .whitespaces)
                let uri = trimmed.hasPrefix("<") && trimmed.hasSuffix(">") ? String(trimmed.dropFirst().dropLast()) : trimmed
                pairs.append((uri, index < tags.count ? tags[index].trimmingCharacters(in: .whitespaces) : nil))
            }
        }
        guard !pairs.isEmpty else {
            throw Problem.badRequest("no-resources", "name the resources with ?u=<uri>&inm=<etag> pairs or Uri headers")
        }
        guard pairs.count <= maximumResources else {
            throw Problem.badRequest("too-many-resources", "at most \(maximumResources) resources per multiplexed request")
        }
        return try pairs.map { pair in
            var inm: ETagCondition?
            if let raw = pair.inm {
                guard let parsed = ETagCondition(header: raw) else {
                    throw Problem.badRequest("invalid-parameter", "inm for \(pair.uri) must be a quoted entity tag")
                }
                inm = parsed
            }
            return try Self.target(uri: pair.uri, inm: inm, defaultMax: defaultChangesLimit)
        }
    }

    static func target(uri: String, inm: ETagCondition?, defaultMax: Int) throws -> Target {
        var rest = Substring(uri)
        if let scheme = rest.range(of: "://") {
            rest = rest[scheme.upperBound...]
            rest = rest[(rest.firstIndex(of: "/") ?? rest.endIndex)...]
        }
        let pathPart = rest.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let query = rest.firstIndex(of: "?").map { rest[rest.index(after: $0)...] } ?? ""
        let path: ResourcePath
        do {
            path = try ResourcePath(parsing: pathPart)
        } catch {
            throw Problem.badRequest("invalid-path", "\(uri): \(error)")
        }
        var after: Substring?
        var max = defaultMax
        for parameter in query.split(separator: "&") {
            let parts = parameter.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            if parts[0] == "after" { after = parts[1] }
            if parts[0] == "max", let number = Int(parts[1]), number > 0 { max = Swift.min(number, defaultMax * 20) }
        }
        return Target(uri: uri, path: path, ifNoneMatch: inm, after: after, max: max)
    }

    // MARK: multiplex-wait

    func wait(_ request: Request, exchange: Exchange) async throws -> Response {
        let targets = try targets(request)
        let seconds = try WaitRequest.seconds(request.headers, maximum: maximumWaitSeconds)
        var entries = try await evaluate(targets, exchange)
        if entries.isEmpty, let seconds {
            let poll = LongPoll()
            defer { poll.cancel() }
            let readable = targets.filter { access.allows(exchange.identity, to: .read, at: $0.path) }
            let filters = readable.map { $0.path.isCollection ? SubscriptionFilter.children($0.path) : .value($0.path) }
            let watcher = try access.watcher(exchange.identity, reading: filters)
            try await poll.watch(filters.map { Subscription($0, watcher: watcher) }, hub: hub)
            entries = try await poll.answer(within: seconds) {
                let now = try await evaluate(targets, exchange)
                return now.isEmpty ? nil : now
            } ?? []
        }
        let body = "{" + entries.map { JSONValue.quoted($0.uri) + ":" + $0.json }.joined(separator: ",") + "}"
        var headers = HTTPFields()
        headers[.contentType] = "application/liveresource-multiplex"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    private struct Entry {
        let uri: String
        let json: String
    }

    /// The entries of the targets that have something to say now.
    private func evaluate(_ targets: [Target], _ exchange: Exchange) async throws -> [Entry] {
        var entries: [Entry] = []
        for target in targets {
            if let json = try await entry(target, exchange) { entries.append(Entry(uri: target.uri, json: json)) }
        }
        return entries
    }

    private func entry(_ target: Target, _ exchange: Exchange) async throws -> String? {
        guard access.allows(exchange.identity, to: .read, at: target.path) else {
            return problemEntry(access.refusal(exchange.identity, .read, target.path))
        }
        if !target.path.isCollection {
            guard let resource = try await store.resource(at: target.path) else {
                return problemEntry(Problem.notFound(target.path.description))
            }
            if target.ifNoneMatch?.matches(resource.etag) == true { return nil }
            return "{\"code\":200,\"headers\":{\"ETag\":\(JSONValue.quoted(resource.etag.headerValue))},\"body\":\(resource.value)}"
        }
        guard let after = target.after else {
            return problemEntry(Problem.badRequest("invalid-parameter", "collections are multiplexed by their changes URI (with after=)"))
        }
        let page: (visible: [ChangeEvent], next: Checkpoint)
        do {
            page = try await ChangesFeed.read(
                store, collection: target.path, after: try ChangesFeed.checkpoint(after, epoch: store.epoch),
                admits: access.eventAdmission(for: .children(target.path), identity: exchange.identity), limit: target.max)
        } catch let problem as Problem {
            return problemEntry(problem)
        }
        guard !page.visible.isEmpty else { return nil }
        let link = "<\(LiveEndpoints.changesURI(exchange.baseURL, target.path, after: page.next, max: target.max))>; rel=\"changes changes-wait\""
        return "{\"code\":200,\"headers\":{\"Link\":\(JSONValue.quoted(link))},\"body\":\(ChangesFeed.body(page.visible))}"
    }

    private func problemEntry(_ problem: Problem) -> String {
        "{\"code\":\(problem.status.code),\"headers\":{\"Content-Type\":\"application/problem+json\"},\"body\":\(problem.jsonText)}"
    }

    // MARK: multiplex-stream

    func stream(_ request: Request, exchange: Exchange) async throws -> Response {
        let targets = try targets(request)
        let epoch = store.epoch
        var preamble: [String] = []
        var sources: [EventStreamResponse.Source] = []
        for target in targets {
            guard access.allows(exchange.identity, to: .read, at: target.path) else {
                let problem = access.refusal(exchange.identity, .read, target.path)
                preamble.append(
                    SSEFrame.make(
                        id: nil, event: "error",
                        data: "{\"uri\":\(JSONValue.quoted(target.uri)),\"code\":\(problem.status.code),\"body\":\(problem.jsonText)}"))
                continue
            }
            let uri = JSONValue.quoted(target.uri)
            let filter = target.path.isCollection ? SubscriptionFilter.children(target.path) : .value(target.path)
            let isCollection = target.path.isCollection
            sources.append(
                .init(
                    filter: filter,
                    formatKey: hub.encodingKeys.shared(EncodingKey("lr-multiplex:" + target.uri)),
                    encode: { change in
                        let body = isCollection ? "[" + ChangesFeed.item(for: change) + "]" : (change.value ?? "null")
                        return SSEFrame.make(id: Checkpoint(epoch: epoch, sequence: change.sequence).token, data: "{\"uri\":\(uri),\"body\":\(body)}")
                    }))
        }
        // The refused targets are answered in the preamble; the watcher reads the others.
        let watcher = try access.watcher(exchange.identity, reading: sources.map(\.filter))
        return try await streams.respond(
            sources: sources, from: ResumePosition.parse(request.headers[.lastEventID], epoch: epoch), watcher: watcher,
            preamble: preamble, connection: exchange.connection)
    }
}
