import EddyCore
@testable import EddyServer
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A client that stops reading while writes keep coming is cut off the same way on every
/// streaming surface: the hub drops its subscription as `tooSlow` once its bounded buffer
/// (`--subscriber-buffer` frames, behind the connection's outbound buffer) is full, so the
/// server holds no more of it than that. Reading again, it finds what was sent before the cut,
/// then the stated end — an SSE `event: error` naming the drop, a WebSocket close 1008 "too
/// slow: messages were not read" — and the connection closes. A client reading the same
/// topic meanwhile gets every event.
///
/// Solid channels share these bounds (`StreamOutlet`, `SocketOutbox`) but are not flooded
/// here: a notification is a few hundred bytes without the value, and the kernel's socket
/// buffers take tens of thousands of them before the server's bound is met.
@Suite struct UniformSlowReaderTests {
    enum Surface: String, CaseIterable, Sendable {
        case valueStream, multiStream, events, multiplexSocket, concrntRealtime
    }

    /// How a client opens the surface: a streaming GET, or a WebSocket and its first message.
    enum Opening: Sendable {
        case stream(target: String)
        case socket(path: String, subprotocol: String?, first: String?)
    }

    enum Ending: Sendable { case errorEvent, close1008 }

    /// One surface made ready: how a client opens it, how it ends a slow one, how to write.
    struct Rig: Sendable {
        let opening: Opening
        let ending: Ending
        let write: @Sendable (Int) async throws -> Void
    }

    static let pad = String(repeating: "x", count: 128 * 1024)
    static let droppedEvent = "event: error\ndata: " + JSONValue.quoted(HubDropReason.tooSlow.description) + "\n\n"
    static let tooSlowReason = "too slow: messages were not read"

    static func value(_ index: Int) -> String {
        #"{"mark":"\#(mark(index))","pad":"\#(pad)"}"#
    }

    static func mark(_ index: Int) -> String { "flood-i-" + String(format: "%06d", index) + "-" }

    @Test(arguments: Surface.allCases)
    func aClientThatStopsReadingIsCutOffAloneWithItsStatedEnd(surface: Surface) async throws {
        try await TestServer.with(configure: {
            $0.subscriberBufferEvents = 8
            // No pings: a raw client that answers none would be closed for that, not for being slow.
            $0.webSocketPingSeconds = 600
        }) { server in
            let rig = try await Self.rig(surface, server)
            let hub = server.server.hub
            let before = hub.subscriberCount
            let reader = try await Self.open(rig.opening, server)
            try await StreamHandoffTests.eventually { hub.subscriberCount > before }
            let withReader = hub.subscriberCount
            let expected = ExpectedCount()
            let reading = Task { try await blocking { reader.read(counting: "flood-i-", until: expected) } }
            let slow = try await Self.open(rig.opening, server, smallReceiveBuffer: true)
            try await StreamHandoffTests.eventually { hub.subscriberCount > withReader }

            var written = 0
            while written < 160, hub.subscriberCount > withReader {
                try await rig.write(written)
                written += 1
                // The next write waits for the reading client: on a loaded machine its thread may
                // be held back long enough to fall the buffer's 8 events behind, and be cut off
                // in the slow one's place.
                try await StreamHandoffTests.eventually(within: 20) { expected.received >= written || hub.subscriberCount <= withReader }
            }
            try await StreamHandoffTests.eventually(within: 10) { hub.subscriberCount == withReader }
            expected.set(written)
            let (received, count) = try await reading.value
            #expect(count == written, "\(surface): the reading client got \(count) of \(written) events")
            #expect(Self.marks(in: received) == (0..<written).map(Self.mark), "\(surface): every event once, in order")

            let rest = try await blocking { slow.readToEnd(stoppingAt: rig.ending == .close1008 ? Self.closeFrame : nil) }
            let tail = String(decoding: rest.bytes.suffix(4096), as: UTF8.self)
            switch rig.ending {
            case .errorEvent:
                #expect(tail.contains(Self.droppedEvent), "\(surface): the stream does not say why it ended: …\(tail.suffix(300))")
                #expect(rest.closed && tail.hasSuffix("0\r\n\r\n"), "\(surface): the stream ends and the connection closes")
            case .close1008:
                #expect(
                    rest.bytes.ends(with: Self.closeFrame),
                    "\(surface): no close 1008 after the messages (closed: \(rest.closed)): …\(rest.bytes.suffix(24).map { String($0, radix: 16) })")
                let closed = try await blocking { () -> Bool in
                    try slow.sendBytes(HostileSocket.frame(opcode: 0x8, payload: [0x03, 0xE8]))
                    return slow.peerClosed()
                }
                #expect(closed, "\(surface): the connection closes once the close is answered")
            }
            withExtendedLifetime(reader) {}
        }
    }

    /// How many deliveries the reading client waits for: unknown until the writes are done.
    final class ExpectedCount: Sendable {
        private let value = Atomic<Int>(-1)
        private let progress = Atomic<Int>(0)
        /// How many events the reading client has read so far.
        var received: Int { progress.load(ordering: .acquiring) }
        func didReceive(_ count: Int) { progress.store(count, ordering: .releasing) }
        func set(_ count: Int) { value.store(count, ordering: .releasing) }
        func isReached(by count: Int) -> Bool {
            let expected = value.load(ordering: .acquiring)
            return expected >= 0 && count >= expected
        }
    }

    /// The close frame a WebSocket too slow to take its messages gets: 1008 and why.
    static let closeFrame: [UInt8] = [0x88, UInt8(2 + tooSlowReason.utf8.count), 0x03, 0xF0] + Array(tooSlowReason.utf8)

    /// Every `flood-i-NNNNNN-` in `bytes`, in order.
    static func marks(in bytes: [UInt8]) -> [String] {
        let prefix = Array("flood-i-".utf8)
        let length = mark(0).utf8.count
        var found: [String] = []
        var index = 0
        while index + length <= bytes.count {
            if bytes[index] == prefix[0], Array(bytes[index..<index + prefix.count]) == prefix {
                found.append(String(decoding: bytes[index..<index + length], as: UTF8.self))
                index += length
            } else {
                index += 1
            }
        }
        return found
    }

    static func rig(_ surface: Surface, _ server: TestServer) async throws -> Rig {
        _ = try await server.send(.PUT, "/flood/x", json: "{}")
        let put: @Sendable (Int) async throws -> Void = { index in
            let response = try await server.send(.PUT, "/flood/x", json: value(index))
            guard response.status < 300 else { throw TestFailure("write \(index): \(response.status)") }
        }
        func live(_ target: String) -> Rig {
            Rig(opening: .stream(target: target), ending: .errorEvent, write: put)
        }
        switch surface {
        case .valueStream: return live("/.eddy/value-stream/flood/x")
        case .multiStream: return live("/.eddy/multi-stream/?u=%2Fflood%2Fx")
        case .events: return live("/.eddy/events?path=/flood/x")
        case .multiplexSocket:
            let opening = Opening.socket(
                path: LiveEndpoints.multiplexSocket, subprotocol: "liveresource", first: #"{"id":1,"type":"subscribe","mode":"value","uri":"/flood/x"}"#)
            return Rig(opening: opening, ending: .close1008, write: put)
        case .concrntRealtime:
            let alice = Entity()
            let opening = Opening.socket(path: Concrnt.realtimePath, subprotocol: nil, first: #"{"type":"listen","prefixes":["cc://\#(alice.ccid)/"]}"#)
            return Rig(
                opening: opening, ending: .close1008,
                write: { index in
                    let response = try await ConcrntTests.commit(server, alice.signed(alice.document(key: "x", value: value(index))))
                    guard response.status < 300 else { throw TestFailure("commit \(index): \(response.status) \(response.body.prefix(200))") }
                })
        }
    }

    /// Opens a raw connection; `smallReceiveBuffer` makes the kernel's side of a client that
    /// stops reading smaller, so that the server's own bound is met sooner.
    static func open(_ opening: Opening, _ server: TestServer, smallReceiveBuffer: Bool = false) async throws -> RawConnection {
        let port = server.port
        return try await blocking {
            let connection: RawConnection
            switch opening {
            case .stream(let target):
                connection = try RawConnection(port: port, timeoutSeconds: 20)
                try connection.send("GET \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n" + "Accept: text/event-stream\r\n\r\n")
            case .socket(let path, let subprotocol, let first):
                connection = try HostileSocket.open(port: port, path: path, protocol: subprotocol)
                var timeout = timeval(tv_sec: 20, tv_usec: 0)
                setsockopt(connection.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                if let first { try connection.sendBytes(HostileSocket.frame(opcode: 0x1, payload: Array(first.utf8))) }
            }
            if smallReceiveBuffer {
                // Not below two segments of loopback's 64 KiB: the client would then announce
                // its window only when the server probes, and reading the backlog again would
                // take longer than the server waits for it.
                var small: Int32 = 256 * 1024
                setsockopt(connection.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            }
            return connection
        }
    }
}

extension RawConnection {
    /// Reads until `marker` has arrived as many times as `expected` says, once it says (or
    /// nothing arrives for the receive timeout, or the connection ends); returns what was read
    /// and the count.
    fileprivate func read(counting marker: String, until expected: UniformSlowReaderTests.ExpectedCount) -> ([UInt8], Int) {
        let pattern = Array(marker.utf8)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var count = 0
        var scanned = 0
        var lastData = ContinuousClock.now
        while !expected.isReached(by: count) {
            // Looks at `expected` again every 50 ms while nothing arrives.
            guard readable(withinMilliseconds: 50) else {
                if ContinuousClock.now - lastData > .seconds(20) { break }
                continue
            }
            let read = recv(fd, &buffer, buffer.count, 0)
            if read <= 0 { break }
            lastData = ContinuousClock.now
            received.append(contentsOf: buffer[0..<read])
            // Only the new bytes, and the few before them a marker may have begun in.
            while scanned + pattern.count <= received.count {
                if received[scanned] == pattern[0], Array(received[scanned..<scanned + pattern.count]) == pattern { count += 1 }
                scanned += 1
            }
            expected.didReceive(count)
        }
        return (received, count)
    }

    /// Reads until the connection ends (or `stop` has arrived last, or the receive timeout
    /// passes); whether the server closed it.
    fileprivate func readToEnd(stoppingAt stop: [UInt8]?) -> (bytes: [UInt8], closed: Bool) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let read = recv(fd, &buffer, buffer.count, 0)
            if read == 0 || (read < 0 && errno == ECONNRESET) { return (received, true) }
            if read < 0 { return (received, false) }
            received.append(contentsOf: buffer[0..<read])
            if let stop, received.ends(with: stop) { return (received, false) }
        }
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}
