/// A position in one change log: the log's epoch and a sequence number. Every resume token
/// Eddy hands out — ETags, `after=` checkpoints, SSE ids — is a checkpoint's `token`, so one
/// replay routine serves them all, and a token from another or a reset log is recognised.
public struct Checkpoint: Hashable, Sendable, CustomStringConvertible {
    public let epoch: String
    public let sequence: SequenceNumber

    public init(epoch: String, sequence: SequenceNumber) {
        self.epoch = epoch
        self.sequence = sequence
    }

    /// Parses `<epoch>-<sequence in base 36>`.
    public init?(token: some StringProtocol) {
        guard let dash = token.lastIndex(of: "-") else { return nil }
        let epoch = token[..<dash]
        let digits = token[token.index(after: dash)...]
        guard !epoch.isEmpty, !digits.isEmpty, digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0.isLowercase) }),
            let sequence = SequenceNumber(digits, radix: 36)
        else { return nil }
        self.epoch = String(epoch)
        self.sequence = sequence
    }

    public var token: String { epoch + "-" + String(sequence, radix: 36) }

    public var description: String { token }
}

extension ETag {
    /// The log position of the change that produced this entity tag, when Eddy issued it.
    public var checkpoint: Checkpoint? { Checkpoint(token: opaque) }
}
