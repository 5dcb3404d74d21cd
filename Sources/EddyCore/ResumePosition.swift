/// Where a subscription starts in the change log. Every surface reads a client's resume token
/// through `parse`, so a token means the same everywhere and a client that cannot resume is
/// told so in one way: `StartOver`.
public enum ResumePosition: Sendable, Hashable {
    /// From the next committed event on.
    case now
    /// Right after this sequence number: the logged events after it, then live ones.
    case after(SequenceNumber)

    /// The position to hand the hub: nil for `now`.
    public var sequence: SequenceNumber? {
        if case .after(let sequence) = self { return sequence }
        return nil
    }

    /// Reads a resume token (`Last-Event-ID`, `after=`, a WebSocket `after`): a checkpoint of
    /// the log with `epoch`, or nothing (start now). Any other token — malformed, or a
    /// checkpoint of another or a reset log — is a start-over, never a guess: a sequence number
    /// means nothing outside the log that issued it.
    /// - Parameter bareSequence: also accept a decimal sequence number without an epoch, for
    ///   `/.eddy/events?after=N` (documented there; `after=0` reads the whole retained log).
    public static func parse(_ token: (some StringProtocol)?, epoch: String, bareSequence: Bool = false) -> Result<ResumePosition, StartOver> {
        guard let token else { return .success(.now) }
        if let checkpoint = Checkpoint(token: token), checkpoint.epoch.hasSameBytes(as: epoch) {
            return .success(.after(checkpoint.sequence))
        }
        if bareSequence, token.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let sequence = SequenceNumber(token) {
            return .success(.after(sequence))
        }
        return .failure(StartOver(.notFromThisLog(token: String(token))))
    }
}

/// The one answer to a client that cannot resume where it asked: its position is from another
/// log, ahead of this one, or older than what retention kept. The client fetches the current
/// state again and subscribes afresh; each protocol says it in its own words (an SSE `reset`
/// event, a 404 changes response, a 404 `error` message on a socket).
public struct StartOver: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        case notFromThisLog(token: String)
        case historyGone(floor: SequenceNumber)
        case aheadOfLog(head: SequenceNumber)
    }

    public let reason: Reason

    public init(_ reason: Reason) {
        self.reason = reason
    }

    /// The start-over a store's refusal to replay means; nil for any other error.
    public init?(_ error: any Error) {
        switch error {
        case let startOver as StartOver: self = startOver
        case StoreError.historyTruncated(_, let floor): self.init(.historyGone(floor: floor))
        case StoreError.positionFromTheFuture(_, let head): self.init(.aheadOfLog(head: head))
        default: return nil
        }
    }

    /// A token quoted back is bounded: it is client input of any length the header limit allows.
    static let quotedTokenLimit = 80

    public var description: String {
        switch reason {
        case .notFromThisLog(let token):
            let shown = token.utf8.count <= Self.quotedTokenLimit ? token : String(decoding: token.utf8.prefix(Self.quotedTokenLimit), as: UTF8.self) + "…"
            return "the resume position '\(shown)' is not from this server's log; fetch the current state again"
        case .historyGone(let floor):
            return "the log no longer holds the events after this position (oldest resumable is \(floor)); fetch the current state again"
        case .aheadOfLog(let head):
            return "the position is ahead of this server's log (head is \(head)); fetch the current state again"
        }
    }
}
