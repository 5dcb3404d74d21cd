import EddyCore
@testable import EddyServer
import Foundation
import Testing

/// A client that opens a stream and never reads holds a bounded amount of the server: on every
/// streaming surface that carries values it is cut off once its buffer is full, and its
/// subscription released. (Solid notifications are a few hundred bytes each: thousands fit in
/// the kernel's socket buffers before the server's own bound, the same `StreamOutlet`, is met.)
@Suite struct NeverReadingClientTests {
    enum Surface: String, CaseIterable, Sendable {
        case valueStream, changesStream, events, multiStream
    }

    @Test(arguments: Surface.allCases)
    func aClientThatNeverReadsIsCutOff(surface: Surface) async throws {
        try await TestServer.with(configure: { $0.subscriberBufferEvents = 8 }) { server in
            _ = try await server.send(.PUT, "/flood/x", json: "{}")
            let target = Self.target(of: surface)
            let connection = try RawConnection(port: server.port, timeoutSeconds: 10)
            // A small receive buffer fills sooner: the server's side of the bound is what is tested.
            var small: Int32 = 4096
            setsockopt(connection.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            let before = server.server.hub.subscriberCount
            try connection.send("GET \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\nAccept: text/event-stream\r\n\r\n")
            try await StreamHandoffTests.eventually { server.server.hub.subscriberCount > before }
            let subscribed = server.server.hub.subscriberCount
            let big = "{\"pad\":\"" + String(repeating: "x", count: 200_000) + "\"}"
            for _ in 0..<80 {
                _ = try await server.send(.PUT, "/flood/x", json: big)
                if server.server.hub.subscriberCount < subscribed { break }
            }
            try await StreamHandoffTests.eventually(within: 10) { server.server.hub.subscriberCount == before }
            #expect(try await blocking { connection.peerClosed() }, "\(surface): the connection was not closed")
        }
    }

    /// The request target of each surface, watching /flood/x or its collection.
    static func target(of surface: Surface) -> String {
        switch surface {
        case .valueStream: "/.eddy/value-stream/flood/x"
        case .changesStream: "/.eddy/changes-stream/flood/"
        case .events: "/.eddy/events?path=/flood/&mode=subtree"
        case .multiStream: "/.eddy/multi-stream/?u=%2Fflood%2Fx&u=%2Fflood%2F"
        }
    }
}
