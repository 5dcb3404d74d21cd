import NIOCore
import Synchronization

/// Frames bound for the handed-off streams of one event loop. Publishers post from any thread;
/// the loop takes everything posted in one task, writes each stream's frames and then flushes
/// each stream once. An event for 10,000 streams then costs the loop one task, not 10,000
/// closures, and a stream that receives a burst of events sends them in one syscall.
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
        var drainScheduled = false
    }

    let eventLoop: any EventLoop
    private let inbox = Mutex(Inbox())
    /// Confined to the event loop: the array the last drain emptied, kept for its capacity.
    private var spare: [(EventStreamHandoff, Delivery)] = []
    private var touched: [EventStreamHandoff] = []

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func post(_ delivery: Delivery, to stream: EventStreamHandoff) {
        let schedule = inbox.withLock { inbox -> Bool in
            inbox.posted.append((stream, delivery))
            guard !inbox.drainScheduled else { return false }
            inbox.drainScheduled = true
            return true
        }
        // Always through the queue, even on the loop itself: a frame must not overtake
        // the ones posted before it.
        if schedule { eventLoop.execute { self.drain() } }
    }

    private func drain() {
        var batch = spare
        inbox.withLock { inbox in
            swap(&batch, &inbox.posted)
            inbox.drainScheduled = false
        }
        var framing = ChunkFraming()
        for (stream, delivery) in batch {
            switch delivery {
            case .frame(let frame):
                if stream.write(frame, framing: &framing) { touched.append(stream) }
            case .finish(let last):
                stream.finishStream(last: last)
            case .release(let released):
                stream.finishStream(last: nil)
                released.succeed()
            case .keepAlive:
                if stream.writeKeepAlive(framing: &framing) { touched.append(stream) }
            }
        }
        for stream in touched { stream.flushWritten() }
        touched.removeAll(keepingCapacity: true)
        batch.removeAll(keepingCapacity: true)
        spare = batch
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

    init() {}

    func mailbox(for eventLoop: any EventLoop) -> FrameMailbox {
        mailboxes.withLock { table in
            let key = ObjectIdentifier(eventLoop)
            if let existing = table[key] { return existing }
            let created = FrameMailbox(eventLoop: eventLoop)
            table[key] = created
            return created
        }
    }
}
