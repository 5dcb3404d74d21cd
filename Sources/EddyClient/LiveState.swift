import EddyCore

/// What the client knows of the resource — its links, its last position, whether the object
/// exists, which collection items it has seen — and the one place that turns what a transport
/// received into events. Every transport reports here, so a change received twice (replayed on
/// a resume, or by a transport that took over) is recognised by its position and reported once.
actor LiveState {
    let url: String
    let isCollection: Bool
    private let continuation: AsyncThrowingStream<LiveResourceEvent, any Error>.Continuation
    private(set) var links: [String: String] = [:]
    /// An object's ETag (opaque part) or a collection's checkpoint: where a resume starts.
    private(set) var position: String?
    /// The collection's changes URI, whose `after=` follows `position`.
    private var changesLink: String?
    private var exists = false
    private var knownItems: Set<String> = []
    /// Whether the current transport got as far as a first answer, so a later failure is a
    /// dropped connection rather than a transport that cannot be used.
    private(set) var isConnected = false

    init(url: String, continuation: AsyncThrowingStream<LiveResourceEvent, any Error>.Continuation) {
        self.url = url
        self.isCollection = ResourceURL.path(of: url).hasSuffix("/")
        self.continuation = continuation
    }

    var changesURL: String? {
        guard let changesLink else { return nil }
        return position.map { ResourceURL.changesURL(changesLink, after: $0) } ?? changesLink
    }

    func connecting() { isConnected = false }
    func connected() { isConnected = true }

    /// Starts (or starts over) from a fresh GET of the resource.
    func start(from answer: HTTPRequester.Answer, resynced: Bool) {
        if resynced { report(.resynced, position: nil) }
        let fetched = answer.links
        if !fetched.isEmpty { links = fetched }
        guard answer.status == 200 else {
            // Only a resync gets here (the first fetch must succeed): the object is gone, and the
            // old position is of no use any more, so transports start from what comes next.
            if exists { report(.removed, position: nil) }
            exists = false
            position = nil
            return
        }
        let value = (try? JSONValue(parsing: answer.body)) ?? .null
        if isCollection {
            changesLink = fetched["changes"] ?? fetched["changes-wait"]
            position = changesLink.flatMap(ResourceURL.checkpoint(in:))
            if case .array(let items) = value { knownItems = Set(items.compactMap(Self.id)) }
        } else {
            position = answer.etag
            exists = true
        }
        report(.value(value), position: position)
    }

    /// An object's new value (nil: deleted) at `at`, the position of that change when known.
    func objectChanged(to value: JSONValue?, at newPosition: String?) {
        guard isNewer(newPosition) else { return }
        if let newPosition { position = newPosition }
        if let value {
            exists = true
            report(.value(value), position: position)
        } else if exists {
            exists = false
            report(.removed, position: position)
        }
    }

    /// Collection items changed up to the checkpoint `at` (items with `"deleted": true` are gone).
    func itemsChanged(_ items: [JSONValue], upTo newPosition: String?, changesLink link: String? = nil) {
        guard isNewer(newPosition) else { return }
        if let newPosition { position = newPosition }
        if let link { changesLink = link }
        for item in items {
            guard let id = Self.id(item) else { continue }
            if item["deleted"] == .bool(true) {
                // Reported even when unseen: the listing the client started from may be one page.
                knownItems.remove(id)
                report(.childRemoved(id), position: position)
            } else if knownItems.insert(id).inserted {
                report(.childAdded(item), position: position)
            } else {
                report(.childChanged(item), position: position)
            }
        }
    }

    /// Whether a change at `candidate` comes after what was already reported. Eddy's positions
    /// are `<epoch>-<sequence>`; a position from another epoch means the server's log was
    /// replaced, and the change is taken as new.
    private func isNewer(_ candidate: String?) -> Bool {
        guard let candidate else { return true }
        guard let position else { return true }
        guard let old = Checkpoint(token: position), let new = Checkpoint(token: candidate), old.epoch == new.epoch else {
            return candidate != position
        }
        return new.sequence > old.sequence
    }

    private func report(_ kind: LiveResourceEvent.Kind, position: String?) {
        continuation.yield(LiveResourceEvent(kind, position: position))
    }

    private static func id(_ item: JSONValue) -> String? {
        switch item["id"] {
        case .string(let id)?: id
        case .int(let id)?: String(id)
        default: nil
        }
    }
}
