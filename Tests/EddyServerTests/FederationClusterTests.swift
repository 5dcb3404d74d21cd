import EddyCore
@testable import EddyServer
import EddyTestSupport
import Foundation
import HTTPTypes
import Testing

/// Federation on two nodes sharing one PostgreSQL schema: watchers on both nodes are served by
/// one upstream socket, held by the node with the lease, and what it relays reaches the other
/// node through the log.
@Suite(.enabled(if: TestStore.postgresBase != nil || ProcessInfo.processInfo.environment["CI"] == "true"))
struct FederationClusterTests {
    @Test func watchersOnTwoNodesShareOneUpstream() async throws {
        try await TestServer.with(configure: { $0.allowOutbound = FederationTests.loopback }) { home in
            try await ClusterTests.withTwoNodes(configure: {
                $0.allowOutbound = FederationTests.loopback
                $0.concrntPeers = [URL(string: home.baseURL)!]
            }) { nodes in
                let alice = Entity()
                #expect(try await ConcrntTests.commit(home, alice.signed(alice.document(key: "post", value: #"{"v":1}"#))).status == 201)
                let before = home.server.hub.subscriberCount
                let onA = try await ClusterTests.EventCollector(nodes.a, path: "/cc/\(alice.ccid)/post")
                defer { onA.stop() }
                let onB = try await ClusterTests.EventCollector(nodes.b, path: "/cc/\(alice.ccid)/post")
                defer { onB.stop() }
                // Both nodes' watches are stored; the holder's one socket carries the union.
                try await waitUntil("two nodes' watches stored", seconds: 15) {
                    try await nodes.a.server.store.registrations(kind: Federation.interestKind).count == 2
                }
                try await home.waitForSubscribers(atLeast: before + 2, seconds: 15)
                let second = alice.signed(alice.document(key: "post", value: #"{"v":2}"#))
                #expect(try await ConcrntTests.commit(home, second).status == 200)
                for (node, collector) in [("a", onA), ("b", onB)] {
                    try await waitUntil("node \(node) got the commit made at home", seconds: 15) {
                        collector.events.list.withLock { events in
                            events.contains { (try? JSONValue(parsing: $0.data))?["value"]?["signedDocument"] == .string(second) }
                        }
                    }
                }
                // One socket for both nodes: one value and one members subscription at home.
                #expect(home.server.hub.subscriberCount == before + 2)
            }
        }
    }
}
