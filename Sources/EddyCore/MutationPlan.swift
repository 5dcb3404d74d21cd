/// What a store knows of the row a mutation targets (a tombstone has no value).
public struct StoredRow: Sendable {
    public var value: String?
    public var version: SequenceNumber
    public var createdSequence: SequenceNumber
    public var createdAt: Int64

    public init(value: String?, version: SequenceNumber, createdSequence: SequenceNumber, createdAt: Int64) {
        self.value = value
        self.version = version
        self.createdSequence = createdSequence
        self.createdAt = createdAt
    }
}

/// The decision every store makes inside its write transaction, made in one place so the
/// backends cannot disagree on preconditions, merge patches or creation times.
public enum MutationPlan: Sendable {
    /// Nothing is written; the write is answered with this outcome.
    case refuse(CommitOutcome)
    /// One event is appended and the row set to this state.
    case write(Write)

    public struct Write: Sendable {
        public let path: ResourcePath
        public let kind: ChangeKind
        /// Nil for a deletion (the row becomes a tombstone).
        public let value: String?
        /// What the deletion's event keeps (`Mutation.tombstone`); nil for every other write.
        public let tombstone: String?
        public let sequence: SequenceNumber
        public let createdSequence: SequenceNumber
        public let createdAt: Int64
        public let time: Int64

        /// The text of the event's `value` column: the value, or for a deletion its tombstone.
        public var loggedValue: String? { value ?? tombstone }

        public func event(epoch: String) -> ChangeEvent {
            ChangeEvent(
                sequence: sequence, path: path, kind: kind, etag: ETag(epoch: epoch, version: sequence), timestamp: time, value: value,
                tombstone: tombstone)
        }

        public func outcome(epoch: String) -> CommitOutcome {
            .committed(event(epoch: epoch), created: kind == .created)
        }
    }
}

extension Mutation {
    /// The path this mutation writes: its own, or for an append the new child named after the
    /// sequence number its creation event will get.
    public func targetPath(nextSequence: SequenceNumber) throws -> ResourcePath {
        if case .append = operation { return try path.child(ResourceID.make(from: nextSequence)) }
        return path
    }

    /// Decides the write given the target's current row; `sequence` is the number the event
    /// gets if it is written, `now` the commit time in milliseconds.
    public func plan(target: ResourcePath, current: StoredRow?, sequence: SequenceNumber, now: Int64, epoch: String) throws -> MutationPlan {
        let currentValue = current?.value
        let currentETag = currentValue == nil ? nil : current.map { ETag(epoch: epoch, version: $0.version) }
        guard preconditionsHold(currentETag: currentETag) else { return .refuse(.preconditionFailed(current: currentETag)) }
        let kind: ChangeKind
        let newValue: String?
        switch operation {
        case .put(let document), .append(let document):
            kind = currentValue == nil ? .created : .updated
            newValue = document.text
        case .patch(let patch):
            guard let currentValue else { return .refuse(.notFound) }
            let merged = try JSONValue(parsing: currentValue).merging(patch: patch)
            guard case .object = merged else { return .refuse(.notAnObject) }
            kind = .updated
            newValue = merged.text
        case .delete:
            guard currentValue != nil else { return .refuse(.notFound) }
            kind = .deleted
            newValue = nil
        }
        let created = kind == .created
        return .write(
            .init(
                path: target, kind: kind, value: newValue, tombstone: kind == .deleted ? tombstone?.text : nil, sequence: sequence,
                createdSequence: created ? sequence : (current?.createdSequence ?? sequence),
                createdAt: created ? (createdAt ?? now) : (current?.createdAt ?? now), time: now))
    }
}
