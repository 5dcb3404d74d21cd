import NIOCore
import Synchronization

/// Frames bound for the handed-off streams of one event loop. Publishers post from any thread;
/// the loop takes everything posted in one task, gathers each stream's frames into one buffer,
/// writes it and flushes each stream once. An event for 10,000 streams then costs the loop one
/// task, not 10,000 closures, and a stream that receives a burst of events (a group commit's
/// batch) gets them in one pipeline write and one syscall.
final class FrameMailbox: @unchecked Sendable {
    enum Delivery {
        case frame(ByteBuffer)
        /// End the stream after what was posted before, with its last frame, if any.
        case finish(last: ByteBuffer?)
        /// A WebSocket's messages end after what was posted before; `released` then succeeds.
        case release(EventLoopPromise<Void>)
        /// The stream's keep-alive frame, if it is idle enough to need one.
        case keepAlive
    }

    private struct Inbox {
        var posted: [(EventStreamHandoff, Delivery)] = []
        /// True from the first post after a drain until the next drain has taken everything.
        var drainScheduled = false
        /// When the next drain may start: see `pause(after:)`.
        var notBefore = NIODeadline.uptimeNanoseconds(0)
        /// While above zero, posts wait for `release()`: see `FrameMailboxes.holding(_:)`.
        var holds = 0
    }

    /// A drain may be followed by a pause of up to this many times its own length...
    static let pauseFactor: Int64 = 8
    /// ...but never longer than this.
    static let longestPause = TimeAmount.milliseconds(40)

    /// How a drain shares its loop: every `streams` writes it looks at the clock, and once it
    /// has written for `budget` it lets the loop run what is waiting (a request's bytes, its
    /// response) before going on. One event to 5,000 streams keeps a loop busy for 40–70 ms;
    /// the next event's `PUT` arriving meanwhile used to wait for all of it, and its delay
    /// became every one of its deliveries' delay.
    struct Slice: Sendable {
        var streams = 64
        var budget = TimeAmount.milliseconds(4)
        /// How long after a slice the next one is due: the loop reads its sockets meanwhile.
        var gap = TimeAmount.microseconds(20)
    }

    let eventLoop: any EventLoop
    private let slice: Slice
    private let inbox = Mutex(Inbox())
    /// Confined to the event loop: the array the last drain emptied, kept for its capacity.
    private var spare: [(EventStreamHandoff, Delivery)] = []
    private var touched: [EventStreamHandoff] = []
    /// Per drain: each stream's frames so far, in the order streams first got one.
    private var gathered: [Gathered] = []
    private var joiner = FrameJoiner()
    /// Numbers the drains, so that a stream's `gatherSlot` tells whether it belongs to this one.
    private var drainNumber: UInt = 0
    /// The drain under way: when it started, and the next of `gathered` to write.
    private var drainStarted = NIODeadline.uptimeNanoseconds(0)
    private var nextToWrite = 0

    private struct Gathered {
        let stream: EventStreamHandoff
        var first: ByteBuffer
        /// Empty, with no storage, for the many streams that get one frame per drain.
        var rest: [ByteBuffer] = []
        var written = false
    }

    init(eventLoop: any EventLoop, slice: Slice = Slice()) {
        self.eventLoop = eventLoop
        self.slice = slice
    }

    func post(_ delivery: Delivery, to stream: EventStreamHandoff) {
        let schedule = inbox.withLock { inbox -> NIODeadline? in
            inbox.posted.append((stream, delivery))
            guard !inbox.drainScheduled, inbox.holds == 0 else { return nil }
            inbox.drainScheduled = true
            return inbox.notBefore
        }
        if let notBefore = schedule { scheduleDrain(notBefore: notBefore) }
    }

    func hold() {
        inbox.withLock { $0.holds += 1 }
    }

    func release() {
        let schedule = inbox.withLock { inbox -> NIODeadline? in
            inbox.holds -= 1
            guard inbox.holds == 0, !inbox.posted.isEmpty, !inbox.drainScheduled else { return nil }
            inbox.drainScheduled = true
            return inbox.notBefore
        }
        if let notBefore = schedule { scheduleDrain(notBefore: notBefore) }
    }

    private func scheduleDrain(notBefore: NIODeadline) {
        // Always through the queue, even on the loop itself: a frame must not overtake
        // the ones posted before it.
        if notBefore <= .now() {
            eventLoop.execute { self.drain() }
        } else {
            eventLoop.scheduleTask(deadline: notBefore) { self.drain() }
        }
    }

    /// How long the loop waits after a drain before the next one. Under a steady stream of
    /// events, a drain right after each group commit would take the whole loop: it writes to
    /// every stream each time, however few events each gets, and requests (the writes that
    /// make the events) would wait behind it. Pausing for `pauseFactor` times the drain's length
    /// keeps fan-out to about a ninth of a busy loop, and each stream then gets the events of
    /// several commits in one write. A loop whose drains are short (few streams) hardly pauses.
    /// A drain as long as the longest pause does not pause at all: the events posted while it
    /// ran already go out together in the next, and a pause would only add to their latency
    /// (one event to 10,000 streams takes that long, and must not wait once more).
    static func pause(after drained: TimeAmount) -> TimeAmount {
        drained >= longestPause ? .zero : min(drained * pauseFactor, longestPause)
    }

    private func drain() {
        drainStarted = .now()
        var batch = spare
        drainNumber &+= 1
        inbox.withLock { inbox in
            swap(&batch, &inbox.posted)
        }
        var framing = ChunkFraming()
        for (stream, delivery) in batch {
            switch delivery {
            case .frame(let frame):
                if let bytes = stream.wireBytes(for: frame, framing: &framing) { gather(bytes, for: stream) }
            case .keepAlive:
                if let bytes = stream.keepAliveBytes(framing: &framing) { gather(bytes, for: stream) }
            case .finish(let last):
                writeGathered(of: stream)
                stream.finishStream(last: last)
            case .release(let released):
                writeGathered(of: stream)
                stream.releaseStream()
                released.succeed()
            }
        }
        for stream in touched { stream.flushWritten() }
        touched.removeAll(keepingCapacity: true)
        batch.removeAll(keepingCapacity: true)
        spare = batch
        nextToWrite = 0
        writeGatheredStreams()
    }

    /// Writes the gathered streams from `nextToWrite` on, for at most the slice's budget; the
    /// rest goes on in a task of its own, behind whatever the loop has waiting.
    private func writeGatheredStreams() {
        let sliceStarted = NIODeadline.now()
        while nextToWrite < gathered.count {
            let end = min(nextToWrite + slice.streams, gathered.count)
            // Each stream is flushed right after its write, while NIO's objects for its channel
            // are still in cache: a second sweep over 5,000 channels would miss on all of them again.
            for index in nextToWrite..<end where !gathered[index].written {
                gathered[index].stream.writeAndFlush(joiner.join(gathered[index].first, gathered[index].rest))
            }
            nextToWrite = end
            if nextToWrite < gathered.count, NIODeadline.now() - sliceStarted >= slice.budget {
                // Not `execute`: a loop runs every task queued during its tick, this one too,
                // before it looks at its sockets again. A task due a moment later ends the
                // tick, so what the sockets brought is read first.
                eventLoop.scheduleTask(in: slice.gap) { self.writeGatheredStreams() }
                return
            }
        }
        finishDrain()
    }

    private func finishDrain() {
        gathered.removeAll(keepingCapacity: true)
        joiner.reset()
        let ended = NIODeadline.now()
        let notBefore = ended + Self.pause(after: ended - drainStarted)
        // Posts that came during the drain wait out the pause too, without a second schedule.
        let more = inbox.withLock { inbox -> Bool in
            inbox.notBefore = notBefore
            // While held, `release()` schedules the next drain.
            if inbox.posted.isEmpty || inbox.holds > 0 { inbox.drainScheduled = false }
            return inbox.drainScheduled
        }
        if more { scheduleDrain(notBefore: notBefore) }
    }

    private func gather(_ bytes: ByteBuffer, for stream: EventStreamHandoff) {
        // The slot lives on the stream, which the drain touches anyway: a table of 5,000
        // streams would cost a hash and a cache miss more per stream.
        guard stream.gatherSlot.drain == drainNumber else {
            stream.gatherSlot = (drainNumber, gathered.count)
            gathered.append(Gathered(stream: stream, first: bytes))
            return
        }
        gathered[stream.gatherSlot.index].rest.append(bytes)
    }

    /// Writes what was gathered for `stream` so far, before something that must come after it.
    private func writeGathered(of stream: EventStreamHandoff) {
        guard stream.gatherSlot.drain == drainNumber else { return }
        let index = stream.gatherSlot.index
        stream.gatherSlot = (0, 0)
        gathered[index].written = true
        if stream.writeGathered(joiner.join(gathered[index].first, gathered[index].rest)) { touched.append(stream) }
    }
}

/// Several frames joined into one buffer, for one write. In a drain, the streams that watch the
/// same resources get the same frames (shared, see `ChunkFraming`) in the same order, so the
/// last join is kept and handed to every stream whose frames are the same: one copy per
/// drain rather than one per stream, which at 1,000 streams and a burst of commits was a
/// fifth of the loops' time in copying and in fresh pages for the copies.
struct FrameJoiner {
    private var sources: [(address: UInt, length: Int)] = []
    /// The frames last joined, held so that their addresses cannot be reused meanwhile.
    private var held: [ByteBuffer] = []
    private var joined = ByteBuffer()

    mutating func join(_ first: ByteBuffer, _ rest: [ByteBuffer]) -> ByteBuffer {
        guard !rest.isEmpty else { return first }
        if sources.count == rest.count + 1, Self.identity(of: first) == sources[0],
            rest.indices.allSatisfy({ Self.identity(of: rest[$0]) == sources[$0 + 1] })
        {
            return joined
        }
        var bytes = ByteBuffer()
        bytes.reserveCapacity(rest.reduce(first.readableBytes) { $0 + $1.readableBytes })
        bytes.writeImmutableBuffer(first)
        for frame in rest { bytes.writeImmutableBuffer(frame) }
        held = [first] + rest
        sources = held.map(Self.identity(of:))
        joined = bytes
        return bytes
    }

    /// Lets go of the frames, at the end of a drain.
    mutating func reset() {
        sources.removeAll(keepingCapacity: true)
        held.removeAll(keepingCapacity: true)
        joined = ByteBuffer()
    }

    private static func identity(of frame: ByteBuffer) -> (address: UInt, length: Int) {
        frame.withUnsafeReadableBytes { (UInt(bitPattern: $0.baseAddress), $0.count) }
    }
}

/// The HTTP/1.1 chunk of the frame last framed, reused while the same frame goes to stream after
/// stream: the frames of one event share their storage, so one chunk serves them all.
struct ChunkFraming {
    private var source: (address: UInt, length: Int)?
    /// The frame last framed, held so that its address cannot be reused by another frame meanwhile.
    private var held: ByteBuffer?
    private var framed = ByteBuffer()

    mutating func chunk(for frame: ByteBuffer) -> ByteBuffer {
        let identity = frame.withUnsafeReadableBytes { (address: UInt(bitPattern: $0.baseAddress), length: $0.count) }
        if let source, source == identity { return framed }
        var chunk = ByteBuffer()
        chunk.reserveCapacity(frame.readableBytes + 12)
        chunk.writeString(String(frame.readableBytes, radix: 16))
        chunk.writeStaticString("\r\n")
        chunk.writeImmutableBuffer(frame)
        chunk.writeStaticString("\r\n")
        source = identity
        held = frame
        framed = chunk
        return chunk
    }
}

/// One mailbox per event loop of the server, made on first use.
final class FrameMailboxes: Sendable {
    private let mailboxes = Mutex<[ObjectIdentifier: FrameMailbox]>([:])
    private let slice: FrameMailbox.Slice

    init(slice: FrameMailbox.Slice = .init()) {
        self.slice = slice
    }

    /// Runs `body` (one hub publish) with every mailbox held, so that each loop takes all the
    /// frames `body` posts in one drain. Otherwise a loop would start on the first few streams
    /// while the publisher was still posting to the rest, and then pause after that short
    /// drain (`FrameMailbox.pause(after:)`) with most of the event still waiting.
    func holding(_ body: () -> Void) {
        let held = mailboxes.withLock { Array($0.values) }
        for mailbox in held { mailbox.hold() }
        defer { for mailbox in held { mailbox.release() } }
        body()
    }

    func mailbox(for eventLoop: any EventLoop) -> FrameMailbox {
        mailboxes.withLock { table in
            let key = ObjectIdentifier(eventLoop)
            if let existing = table[key] { return existing }
            let created = FrameMailbox(eventLoop: eventLoop, slice: slice)
            table[key] = created
            return created
        }
    }
}
