import EddyCore

/// The body of a changes response: each child changed after a checkpoint, once, in its latest
/// state within the batch — objects carry their `id`, deleted ones are `{"id":…,"deleted":true}`.
enum ChangesFeed {
    static func item(for change: ChangeEvent) -> String {
        guard let value = change.value else {
            return "{\"id\":" + JSONValue.quoted(change.path.name) + ",\"deleted\":true}"
        }
        return StoredResource.item(id: change.path.name, value: value)
    }

    /// Collapses a batch of events to one item per child, ordered by each child's last change.
    static func body(_ changes: [ChangeEvent]) -> String {
        var latest: [ResourcePath: Int] = [:]
        for (index, change) in changes.enumerated() { latest[change.path] = index }
        let items = changes.enumerated().filter { latest[$0.element.path] == $0.offset }.map { item(for: $0.element) }
        return "[" + items.joined(separator: ",") + "]"
    }

    /// Changes of `collection` after `checkpoint` that the caller may see, and the checkpoint
    /// to continue from. The next checkpoint passes hidden changes too, so a reader is never
    /// held back by changes it may not see. A checkpoint older than the retained log answers
    /// 404, so the client starts over.
    static func read(
        _ store: any ResourceStore, collection: ResourcePath, after checkpoint: Checkpoint,
        admits: (@Sendable (ResourcePath) -> Bool)?, limit: Int
    ) async throws -> (visible: [ChangeEvent], next: Checkpoint) {
        let changes: [ChangeEvent]
        do {
            changes = try await store.events(after: checkpoint.sequence, matching: .children(collection), limit: limit)
        } catch {
            guard let startOver = StartOver(error) else { throw error }
            throw Problem.startOver(startOver)
        }
        let visible = admits.map { admits in changes.filter { admits($0.path) } } ?? changes
        return (visible, Checkpoint(epoch: checkpoint.epoch, sequence: changes.last?.sequence ?? checkpoint.sequence))
    }

    /// Parses an `after=` checkpoint of this log; one that is not is a start-over (404).
    static func checkpoint(_ raw: some StringProtocol, epoch: String) throws -> Checkpoint {
        switch ResumePosition.parse(raw, epoch: epoch) {
        case .success(let position): return Checkpoint(epoch: epoch, sequence: position.sequence ?? 0)
        case .failure(let startOver): throw Problem.startOver(startOver)
        }
    }
}

extension Problem {
    /// How a request–response surface says "start over": 404, so a LiveResource client
    /// fetches the resource or collection again.
    static func startOver(_ startOver: StartOver) -> Problem {
        Problem(.notFound, "stale-checkpoint", startOver.description)
    }
}
