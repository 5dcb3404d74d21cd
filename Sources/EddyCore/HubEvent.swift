import Synchronization

/// A committed event on its way to subscribers. Wire adapters ask it for their encoding by
/// a typed format key (`EncodingKey`): the first subscriber of a format builds the bytes, every other one reuses
/// them, so an event is encoded once per format rather than once per subscriber.
public final class HubEvent: Sendable {
    public let change: ChangeEvent
    @usableFromInline let encodings = Mutex<[EncodingEntry]>([])

    public init(_ change: ChangeEvent) {
        self.change = change
    }

    public var sequence: SequenceNumber { change.sequence }

    /// Inlinable, so that the transport's call is specialised for its encoding's type: the
    /// generic version looked the type's metadata up and cast an existential at every delivery.
    @inlinable
    public func encoded<Encoding: Sendable>(as key: EncodingKey<Encoding>, _ build: () -> Encoding) -> Encoding {
        cachedEncoding(in: encodings, key: key.name, build)
    }
}

/// Consecutive events of one publish that the same subscribers watch, in sequence order. A
/// subscriber that takes batches (`HubSubscriber.takesBatches`) gets them in one call and can
/// encode them once for every subscriber of the batch, as `HubEvent.encoded` does for one.
public final class HubEventBatch: Sendable {
    public let events: [HubEvent]
    @usableFromInline let encodings = Mutex<[EncodingEntry]>([])

    public init(_ events: [HubEvent]) {
        self.events = events
    }

    @inlinable
    public func encoded<Encoding: Sendable>(as key: EncodingKey<Encoding>, _ build: () -> Encoding) -> Encoding {
        cachedEncoding(in: encodings, key: key.name, build)
    }
}

/// One format's encoding of an event or a batch, under its key's name.
@usableFromInline
struct EncodingEntry: Sendable {
    @usableFromInline let key: String
    /// An `EncodedValue<Encoding>`: a class, so that reading it back is a class cast (a
    /// pointer comparison), not a cast out of an existential.
    @usableFromInline let box: any AnyObject & Sendable

    @usableFromInline
    init(key: String, box: any AnyObject & Sendable) {
        self.key = key
        self.box = box
    }
}

@usableFromInline
final class EncodedValue<Encoding: Sendable>: Sendable {
    @usableFromInline let value: Encoding

    @usableFromInline
    init(_ value: Encoding) {
        self.value = value
    }
}

@inlinable
func cachedEncoding<Encoding: Sendable>(
    in encodings: borrowing Mutex<[EncodingEntry]>, key: String, _ build: () -> Encoding
) -> Encoding {
    // Keys hold client-given URIs: two that are canonically equivalent but not the same bytes
    // name different resources and must not share an encoding. A key read back as another
    // type than it was stored as is built anew, and not kept.
    let box = encodings.withLock { list in list.first(where: { $0.key.hasSameBytes(as: key) })?.box }
    if let box {
        if let cached = box as? EncodedValue<Encoding> { return cached.value }
        return build()
    }
    let value = build()
    encodings.withLock { list in
        if !list.contains(where: { $0.key.hasSameBytes(as: key) }) { list.append(EncodingEntry(key: key, box: EncodedValue(value))) }
    }
    return value
}

/// Something that receives events from the hub. Both calls must return quickly and never
/// block: they run on the publisher's thread.
public protocol HubSubscriber: AnyObject, Sendable {
    /// What this subscriber serves, for counting subscribers by kind. It must not change while
    /// the subscriber is registered: the hub reads it when it adds and when it removes one.
    var kind: HubSubscriberKind { get }

    /// Takes one event. Returns false when the subscriber cannot take more (its bounded
    /// buffer is full); the hub then drops it with `HubDropReason.tooSlow`.
    func receive(_ event: HubEvent) -> Bool

    /// The hub will deliver nothing more, for `reason`. Not called after `cancel()`.
    func hubDidDrop(reason: HubDropReason)

    /// Whether the hub may hand this subscriber a publish's events in one `receive(batch:)`.
    /// Only for a subscriber that is alone on its output: a stream fed by several
    /// subscriptions must get events one at a time, in sequence order across them all.
    var takesBatches: Bool { get }

    /// Takes several events at once, in sequence order; false as for `receive(_:)`.
    func receive(batch: HubEventBatch) -> Bool
}

extension HubSubscriber {
    public var takesBatches: Bool { false }

    public func receive(batch: HubEventBatch) -> Bool {
        batch.events.allSatisfy { receive($0) }
    }
}

public enum HubDropReason: Error, Equatable, Sendable, CustomStringConvertible {
    /// The subscriber's buffer was full: it reads slower than events arrive.
    case tooSlow
    /// Live events queued up beyond the buffer while the replay from the log was still running.
    case replayOverrun
    /// The hub is shutting down.
    case shutdown
    /// The subscription is no longer allowed (for example its access was revoked).
    case revoked(String)
    /// The subscription reached its end (`DeliveryPace.endAt`).
    case ended

    public var description: String {
        switch self {
        case .tooSlow: "subscriber fell behind and its buffer is full"
        case .replayOverrun: "too many live events arrived while replaying history"
        case .shutdown: "server is shutting down"
        case .revoked(let why): "subscription revoked: \(why)"
        case .ended: "the subscription reached its end time"
        }
    }
}
