import EddyCore
@testable import EddyServer
import EddyTestSupport
import Foundation
import Testing

/// A channel's capability is found through the store's token index: anyone may present an
/// unknown token (an anonymous stream request or WebSocket upgrade), and that must not make
/// the server read every channel.
@Suite struct ChannelTokenLookupTests {
    static let channelLease = "deliveries:" + SolidChannel.kind

    /// An EventSource channel on `/notes/topic`, stored directly (as another node would).
    static func store(_ channel: SolidChannel, in store: any ResourceStore, withToken: Bool = true) async throws {
        try await store.saveRegistration(
            StoredRegistration(
                id: channel.id, kind: SolidChannel.kind, subject: nil, payload: channel.payload, cursor: 0,
                token: withToken ? channel.token : nil))
    }

    static func channel(_ name: String, base: String) throws -> SolidChannel {
        SolidChannel(
            id: base + "/.eddy/solid/channel/" + name, type: .eventSource2023, topic: base + "/notes/topic",
            path: try ResourcePath(parsing: "/notes/topic"), token: SolidChannel.newToken(), subject: nil, state: nil, rate: nil,
            startAt: nil, endAt: nil, sendTo: nil, base: base)
    }

    static func upgrade(port: Int, token: String) async throws -> RawHTTP.Reply {
        try await blocking { () -> RawHTTP.Reply in
            let connection = try RawConnection(port: port, timeoutSeconds: 5)
            try connection.send(
                "GET \(StorageDescription.receivePrefix)\(token) HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            return RawHTTP.parse(connection.readUntilClosed())
        }
    }

    /// The stream a capability opens, or its status when it opens none.
    static func openStatus(_ url: String) async throws -> Int {
        let reader = try await SSEReader.open(url)
        return Int(reader.response.status.code)
    }

    @Test func anUnknownTokenCostsOneIndexedLookupNotAScan() async throws {
        // Another node holds the channels' lease, so its periodic reads stay out of the count.
        let server = try await TestServer.start(
            configure: SolidTests.configure, wrapStore: { CountingStore($0, leaseHeldElsewhere: Self.channelLease) })
        defer { Task { await server.stop() } }
        let store = try #require(server.server.store as? CountingStore)
        _ = try await server.send(.PUT, "/notes/topic", json: "{}")
        try await waitUntil("the channels were checked at start") { store.listings(of: SolidChannel.kind) >= 1 }
        var channels: [SolidChannel] = []
        for index in 0..<300 {
            let channel = try Self.channel("c\(index)", base: server.baseURL)
            try await Self.store(channel, in: store)
            channels.append(channel)
        }
        let listings = store.listings(of: SolidChannel.kind)
        let lookups = store.tokenLookups

        let unknown = SolidChannel.newToken()
        let stream = try await server.send(.GET, StorageDescription.receivePrefix + unknown, headers: [("Accept", "text/event-stream")])
        #expect(stream.status == 404)
        let upgrade = try await Self.upgrade(port: server.port, token: unknown)
        #expect(upgrade.status == 400 || upgrade.status == 404, "\(upgrade.head)")
        #expect(store.listings(of: SolidChannel.kind) == listings, "an unknown token read every channel")
        #expect(store.tokenLookups == lookups + 2)

        // A known token is found the same way.
        #expect(try await Self.openStatus(server.baseURL + StorageDescription.receivePrefix + channels[150].token) == 200)
        #expect(store.listings(of: SolidChannel.kind) == listings)
        #expect(store.tokenLookups == lookups + 3)
    }

    /// After a restart the capability still opens its stream; a channel stored before tokens
    /// were indexed (a database from an older version) gets its token at start.
    @Test func aTokenIsFoundAfterARestart() async throws {
        let first = try await TestServer.start(configure: SolidTests.configure)
        _ = try await first.send(.PUT, "/notes/topic", json: "{}")
        let indexed = try Self.channel("indexed", base: first.baseURL)
        let older = try Self.channel("older", base: first.baseURL)
        try await Self.store(indexed, in: first.server.store)
        try await Self.store(older, in: first.server.store, withToken: false)

        let second = try await first.restarted(configure: SolidTests.configure)
        defer { Task { await second.stop() } }
        let store = second.server.store
        #expect(try await Self.openStatus(second.baseURL + StorageDescription.receivePrefix + indexed.token) == 200)
        try await waitUntil("the older channel's token is indexed") { try await store.registration(token: older.token) != nil }
        #expect(try await Self.openStatus(second.baseURL + StorageDescription.receivePrefix + older.token) == 200)
        #expect(try await Self.openStatus(second.baseURL + StorageDescription.receivePrefix + "not" + older.token) == 404)
    }
}
