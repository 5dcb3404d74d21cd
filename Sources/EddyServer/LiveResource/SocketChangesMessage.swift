import EddyCore
import NIOCore
import Synchronization

/// A `multiplex-ws` `changes` event message for one event, collection URI (as the client spelled
/// it) and host, built once per event for every socket subscribed the same way
/// (`HubEvent.encoded`). Only its `prev-changes` link is a subscriber's own: it names the
/// checkpoint before the event as that subscriber saw it, which differs for one that joined
/// after the last change or was not admitted to it. Subscribers naming the same checkpoint,
/// which is all of them in the steady state, share one frame.
final class SocketChangesMessage: Sendable {
    /// The message up to the `prev-changes` URI, and from its end on, as JSON text.
    private let head: String
    private let tail: String
    private let base: String
    private let path: ResourcePath
    private let epoch: String
    /// Frames by the previous checkpoint they name. Held with the event while it is delivered;
    /// past `heldFramesLimit` checkpoints a frame is built for its subscriber alone.
    private let frames = Mutex<[(previous: SequenceNumber, frame: ByteBuffer)]>([])

    static let heldFramesLimit = 8

    init(uri: String, base: String, path: ResourcePath, epoch: String, change: ChangeEvent) {
        self.base = base
        self.path = path
        self.epoch = epoch
        let next = LiveEndpoints.changesURI(base, path, after: Checkpoint(epoch: epoch, sequence: change.sequence), max: nil)
        // JSON escapes scalar by scalar, so the link's quoted text can be cut where the
        // subscriber's URI goes in.
        head = "{\"type\":\"event\",\"uri\":\(JSONValue.quoted(uri)),\"headers\":{\"Link\":"
            + String(JSONValue.quoted("<\(next)>; rel=changes, <").dropLast())
        tail = String(JSONValue.quoted(">; rel=prev-changes").dropFirst()) + "},\"body\":[\(ChangesFeed.item(for: change))]}"
    }

    /// The message for a subscriber whose last checkpoint was `previous`.
    func message(after previous: SequenceNumber) -> String {
        let before = LiveEndpoints.changesURI(base, path, after: Checkpoint(epoch: epoch, sequence: previous), max: nil)
        return head + String(JSONValue.quoted(before).dropFirst().dropLast()) + tail
    }

    /// The message framed (`WebSocketFrames.text`), shared by every subscriber after `previous`.
    func frame(after previous: SequenceNumber) -> ByteBuffer {
        if let held = frames.withLock({ $0.first(where: { $0.previous == previous })?.frame }) { return held }
        let frame = WebSocketFrames.text(message(after: previous))
        frames.withLock { frames in
            if frames.count < Self.heldFramesLimit, !frames.contains(where: { $0.previous == previous }) { frames.append((previous, frame)) }
        }
        return frame
    }

    /// How many distinct frames subscribers were handed and share.
    var heldFrames: Int { frames.withLock { $0.count } }
}
