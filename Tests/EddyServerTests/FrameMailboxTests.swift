import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import EddyServer

/// The per-loop frame mailbox, on a real loopback connection: what a hub publish posts while
/// the mailboxes are held must reach the loop as one drain, after the publish.
@Suite struct FrameMailboxTests {
    @Test func framesPostedWhileHeldAreWrittenOnlyAfterTheRelease() async throws {
        try await Self.withClaimedSocket { socket in
            let (handoff, mailboxes, received) = (socket.handoff, socket.mailboxes, socket.received)
            let first = WebSocketFrames.text("first")
            let second = WebSocketFrames.text("second")
            var writtenWhileHeld = 0
            mailboxes.holding {
                #expect(handoff.send(first))
                // A drain is a task on the loop: once a task queued after the send has run, a
                // drain the send had started would have written the first frame.
                do {
                    try socket.loop.submit {}.wait()
                } catch {
                    Issue.record("the loop did not run a task: \(error)")
                }
                #expect(handoff.send(second))
                writtenWhileHeld = socket.writes.withLockedValue { $0 }
            }
            #expect(writtenWhileHeld == 0, "nothing is written while the publisher holds the mailbox")
            let expected = first.readableBytes + second.readableBytes
            try await Self.eventually { received.withLockedValue { $0.readableBytes } == expected }
            var bytes = received.withLockedValue { $0 }
            #expect(bytes.readSlice(length: first.readableBytes) == first)
            #expect(bytes.readSlice(length: second.readableBytes) == second)
        }
    }

    @Test func framesPostedOutsideAHoldAreWrittenAtOnce() async throws {
        try await Self.withClaimedSocket { socket in
            let (handoff, received) = (socket.handoff, socket.received)
            let frame = WebSocketFrames.text("now")
            #expect(handoff.send(frame))
            try await Self.eventually { received.withLockedValue { $0.readableBytes } == frame.readableBytes }
        }
    }

    @Test func streamsGettingTheSameFramesShareOneJoin() {
        var joiner = FrameJoiner()
        let first = WebSocketFrames.text("a")
        let second = WebSocketFrames.text("bb")
        let joined = joiner.join(first, [second])
        #expect(joined == ByteBuffer(bytes: Array(first.readableBytesView) + Array(second.readableBytesView)))
        let again = joiner.join(first, [second])
        #expect(Self.address(of: again) == Self.address(of: joined), "the same frames reuse the join")
        let third = WebSocketFrames.text("ccc")
        let other = joiner.join(first, [third])
        #expect(other == ByteBuffer(bytes: Array(first.readableBytesView) + Array(third.readableBytesView)))
        #expect(joiner.join(first, []) == first)
        // Equal bytes in other storage are other frames: joined afresh, and still right.
        let copy = ByteBuffer(bytes: Array(first.readableBytesView))
        #expect(joiner.join(copy, [third]) == other)
    }

    static func address(of bytes: ByteBuffer) -> UInt {
        bytes.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
    }

    @Test func aLongDrainIsNotFollowedByAPause() {
        #expect(FrameMailbox.pause(after: .milliseconds(1)) == .milliseconds(8))
        #expect(FrameMailbox.pause(after: .milliseconds(20)) == FrameMailbox.longestPause)
        #expect(FrameMailbox.pause(after: FrameMailbox.longestPause) == .zero)
    }

    @Test func aLongDrainReadsTheSocketsBetweenSlices() async throws {
        // A slice of one stream, with no time budget: the drain yields after every stream.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let mailboxes = FrameMailboxes(slice: .init(streams: 1, budget: .zero))
        let writes = NIOLockedValueBox(0)
        let writesWhenTheProbeWasRead = loop.makePromise(of: Int.self)
        let accepted = NIOLockedValueBox<[any Channel]>([])
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(WriteCounter(writes: writes))
                    try channel.pipeline.syncOperations.addHandler(EventStreamHandoff(mailbox: mailboxes.mailbox(for: channel.eventLoop)))
                    try channel.pipeline.syncOperations.addHandler(ReadProbe(writes: writes, read: writesWhenTheProbeWasRead))
                    accepted.withLockedValue { $0.append(channel) }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        // Three streams, then the probe: a client that sends a request while the drain runs.
        var clients: [any Channel] = []
        for count in 1...4 {
            clients.append(try await ClientBootstrap(group: group).connect(to: server.localAddress!).get())
            try await Self.eventually { accepted.withLockedValue { $0.count } == count }
        }
        var handoffs: [EventStreamHandoff] = []
        for channel in accepted.withLockedValue({ $0 }).prefix(3) {
            handoffs.append(try #require(await EventStreamHandoff.claimWebSocket(channel, capacity: 8)))
        }
        let streams = handoffs
        let probe = clients[3]
        // All in one task on the loop: the probe's bytes are on their way before the drain
        // starts, and are read between its slices, after the first stream's write.
        loop.execute {
            mailboxes.holding {
                for handoff in streams { _ = handoff.send(WebSocketFrames.text("event")) }
                probe.writeAndFlush(ByteBuffer(string: "PUT /next HTTP/1.1\r\n"), promise: nil)
            }
        }
        #expect(try await writesWhenTheProbeWasRead.futureResult.get() == 1)
        try await Self.eventually { writes.withLockedValue { $0 } == 3 }
        for client in clients { try await client.close() }
        try await server.close()
        try await group.shutdownGracefully()
    }

    /// Tells how many writes had gone out when its connection was first read.
    final class ReadProbe: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let writes: NIOLockedValueBox<Int>
        let read: EventLoopPromise<Int>
        let fired = NIOLockedValueBox(false)

        init(writes: NIOLockedValueBox<Int>, read: EventLoopPromise<Int>) {
            self.writes = writes
            self.read = read
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !fired.withLockedValue({ $0 }) else { return }
            fired.withLockedValue { $0 = true }
            read.succeed(writes.withLockedValue { $0 })
        }
    }

    /// Counts the writes that pass it on their way to the socket.
    final class WriteCounter: ChannelOutboundHandler, Sendable {
        typealias OutboundIn = ByteBuffer
        let writes: NIOLockedValueBox<Int>

        init(writes: NIOLockedValueBox<Int>) {
            self.writes = writes
        }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            writes.withLockedValue { $0 += 1 }
            context.write(data, promise: promise)
        }
    }

    /// A loopback connection whose server side is claimed the way an upgraded WebSocket is.
    struct ClaimedSocket {
        let handoff: EventStreamHandoff
        let mailboxes: FrameMailboxes
        /// The one loop both ends run on.
        let loop: any EventLoop
        /// The writes the server side has made to its socket.
        let writes: NIOLockedValueBox<Int>
        /// What the client side has read.
        let received: NIOLockedValueBox<ByteBuffer>
    }

    static func withClaimedSocket(_ body: (ClaimedSocket) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let mailboxes = FrameMailboxes()
        let accepted = group.next().makePromise(of: (any Channel).self)
        let writes = NIOLockedValueBox(0)
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(WriteCounter(writes: writes))
                    try channel.pipeline.syncOperations.addHandler(EventStreamHandoff(mailbox: mailboxes.mailbox(for: channel.eventLoop)))
                    accepted.succeed(channel)
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let received = NIOLockedValueBox(ByteBuffer())
        let client = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(received: received)) }
            }
            .connect(to: server.localAddress!).get()
        do {
            let channel = try await accepted.futureResult.get()
            let handoff = try #require(await EventStreamHandoff.claimWebSocket(channel, capacity: 8))
            try await body(
                ClaimedSocket(handoff: handoff, mailboxes: mailboxes, loop: channel.eventLoop, writes: writes, received: received))
        } catch {
            try? await client.close()
            try? await server.close()
            try? await group.shutdownGracefully()
            throw error
        }
        try await client.close()
        try await server.close()
        try await group.shutdownGracefully()
    }

    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received: NIOLockedValueBox<ByteBuffer>

        init(received: NIOLockedValueBox<ByteBuffer>) {
            self.received = received
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            received.withLockedValue { _ = $0.writeBuffer(&bytes) }
        }
    }

    static func eventually(within seconds: Double = 5, _ condition: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            guard Date() < deadline else {
                Issue.record("condition not met within \(seconds) s")
                return
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
