import EddyCore
import EddyPostgres
@testable import EddyServer
import EddyTestSupport
import Foundation
import Logging
import PostgresNIO
import Synchronization
import Testing

/// Two nodes on one PostgreSQL schema. Runs wherever `EDDY_TEST_POSTGRES` names a database;
/// under CI it must (the check fails without it).
@Suite(.enabled(if: TestStore.postgresBase != nil || ProcessInfo.processInfo.environment["CI"] == "true"))
struct ClusterTests {
    struct Nodes {
        let a: TestServer
        let b: TestServer
        let storeURL: String
    }

    static func withTwoNodes(configure: @escaping (inout ServerConfiguration) -> Void = { _ in }, _ body: (Nodes) async throws -> Void) async throws {
        let base = try #require(TestStore.postgresBase, "CI runs the cluster tests: set EDDY_TEST_POSTGRES")
        let url = TestStore.url(base: base, schema: TestStore.schemaName("c_" + UUID().uuidString))
        let setUp = { (configuration: inout ServerConfiguration) in
            configuration.storeURL = url
            configuration.leaseSeconds = 2
            configure(&configuration)
        }
        let a = try await TestServer.start(configure: setUp)
        let b: TestServer
        do { b = try await TestServer.start(configure: setUp) } catch {
            await a.stop()
            throw error
        }
        do {
            try await body(Nodes(a: a, b: b, storeURL: url))
        } catch {
            await b.stop()
            await a.stop()
            throw error
        }
        await b.stop()
        await a.stop()
    }

    /// Opens `/.eddy/events` on `server` and collects its events in the background.
    final class EventCollector: Sendable {
        final class Events: Sendable {
            let list = Mutex<[SSEReader.Event]>([])
            var count: Int { list.withLock { $0.count } }
        }
        let events = Events()
        private let task: Task<Void, Never>

        init(_ server: TestServer, path: String, lastEventID: String? = nil) async throws {
            let before = server.server.hub.subscriberCount
            let reader = try await SSEReader.open(
                server.baseURL + "/.eddy/events?path=" + path, headers: lastEventID.map { [("Last-Event-ID", $0)] } ?? [])
            let events = self.events
            task = Task {
                var reader = reader
                while let event = try? await reader.next() { events.list.withLock { $0.append(event) } }
            }
            try await server.waitForSubscribers(atLeast: before + 1)
        }

        /// The first `count` events, once they arrived.
        func first(_ count: Int, within seconds: Double = 15) async throws -> [SSEReader.Event] {
            let deadline = ContinuousClock.now + .seconds(seconds)
            while true {
                let seen = events.list.withLock { $0 }
                if seen.count >= count { return Array(seen.prefix(count)) }
                guard ContinuousClock.now < deadline else { throw TestFailure("only \(seen.count) of \(count) events arrived") }
                try await Task.sleep(for: .milliseconds(10))
            }
        }

        func stop() { task.cancel() }
        deinit { task.cancel() }
    }

    /// Who holds a lease right now, read straight from the database.
    static func leaseHolder(_ name: String, storeURL: String) async throws -> String? {
        let location = try PostgresLocation(url: storeURL)
        var logger = Logger(label: "cluster-test")
        logger.logLevel = .error
        let configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.username, password: location.password,
            database: location.database, tls: .disable)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 8, logger: logger)
        var binds = PostgresBindings()
        binds.append(name, context: .default)
        let rows = try await connection.query(
            PostgresQuery(unsafeSQL: "SELECT holder FROM \(location.schema).leases WHERE name = $1", binds: binds), logger: logger
        ).collect()
        try await connection.close()
        return try rows.first?.decode(String.self)
    }

    final class Acknowledged: Sendable {
        let list = Mutex<[UInt64]>([])
    }

    @Test func everyProtocolOnOneNodeSeesWritesMadeOnTheOther() async throws {
        try await Self.withTwoNodes { nodes in
            let (a, b) = (nodes.a, nodes.b)
            #expect(try await a.send(.PUT, "/shared/doc", json: #"{"n":0}"#).status == 201)
            let idle = b.server.hub.subscriberCount

            // Server-sent events on B.
            let stream = try await EventCollector(b, path: "/shared/")
            #expect(try await a.send(.PUT, "/shared/doc", json: #"{"n":1}"#).status == 200)
            let streamed = try await stream.first(1)[0]
            #expect((try JSONValue(parsing: streamed.data))["path"] == .string("/shared/doc"))
            stream.stop()
            try await b.waitForSubscribers(atMost: idle)

            // Long-poll on B.
            let current = try await b.send(.GET, "/shared/doc")
            #expect(current.json == .object(["n": .int(1)]), "B reads what A wrote")
            let etag = try #require(current.header("ETag"))
            async let polled = b.send(.GET, "/shared/doc", headers: [("If-None-Match", etag), ("Wait", "10")])
            // A's write comes once B holds the wait, so it is the write's event that ends it.
            try await b.waitForSubscribers(atLeast: idle + 1)
            #expect(try await a.send(.PUT, "/shared/doc", json: #"{"n":2}"#).status == 200)
            let answer = try await polled
            #expect(answer.status == 200)
            #expect(answer.json == .object(["n": .int(2)]))

            // The multiplex WebSocket on B.
            let socket = try #require(try await b.send(.GET, "/shared/doc").links["multiplex-ws"])
            try await SocketScript.run(socket) { send, next in
                try await send(#"{"id":1,"type":"subscribe","mode":"value","uri":"/shared/doc"}"#)
                _ = try await next()
                #expect(try await a.send(.PUT, "/shared/doc", json: #"{"n":3}"#).status == 200)
                var seen = false
                for _ in 0..<5 where !seen {
                    let message = try await next()
                    if message.text.contains(#""n":3"#) { seen = true }
                }
                #expect(seen, "the WebSocket on B saw A's write")
            }

            // A Solid channel on B.
            let service = try await SolidTests.discoverService(b.baseURL + "/shared/doc", type: "WebSocketChannel2023")
            let created = try await SolidTests.subscribe(service, type: "WebSocketChannel2023", topic: b.baseURL + "/shared/doc")
            #expect(created.status == 200)
            let channel = try #require(created.json)
            let reader = try await SolidTests.connected(channel, receiver: nil, server: b)
            #expect(try await a.send(.PUT, "/shared/doc", json: #"{"n":4}"#).status == 200)
            let notification = try await reader.next()
            #expect(notification["type"] == .string("Update"))
            reader.stop()

            // Concrnt realtime on B.
            let alice = Entity()
            let realtime = b.baseURL.replacingOccurrences(of: "http://", with: "ws://") + Concrnt.realtimePath
            let post = alice.signed(alice.document(key: "note"))
            let raw = try await withTimeout(15) {
                try await RawSocketText.firstMessage(realtime, send: #"{"action":"subscribe","resources":["cc://\#(alice.ccid)/note"]}"#) {
                    let committed = try await ConcrntTests.commit(a, post)
                    #expect(committed.status == 201)
                }
            }
            #expect(raw.contains(#""signed_document":"# + post))
        }
    }

    @Test func aStreamResumesOnTheOtherNodeWithExactlyTheMissedEvents() async throws {
        try await Self.withTwoNodes { nodes in
            let (a, b) = (nodes.a, nodes.b)
            let first = try await EventCollector(a, path: "/resume/")
            for index in 1...2 { _ = try await a.send(.PUT, "/resume/\(index)", json: #"{"i":\#(index)}"#) }
            let lastID = try #require(try await first.first(2)[1].id)
            first.stop()
            // Missed while away: three writes, made on both nodes.
            _ = try await a.send(.PUT, "/resume/3", json: #"{"i":3}"#)
            _ = try await b.send(.PUT, "/resume/4", json: #"{"i":4}"#)
            _ = try await a.send(.PUT, "/resume/5", json: #"{"i":5}"#)
            let resumed = try await EventCollector(b, path: "/resume/", lastEventID: lastID)
            let missed = try await resumed.first(3).map { event -> JSONValue? in (try? JSONValue(parsing: event.data))?["path"] }
            #expect(missed == [.string("/resume/3"), .string("/resume/4"), .string("/resume/5")])
            _ = try await a.send(.PUT, "/resume/6", json: #"{"i":6}"#)
            let live = try await resumed.first(4)[3]
            #expect(live.data.contains("/resume/6"), "the next event is the new write, nothing repeated")
        }
    }

    @Test func concurrentWritersOnBothNodesAreSeenOnceInOneOrderEverywhere() async throws {
        try await Self.withTwoNodes { nodes in
            let (a, b) = (nodes.a, nodes.b)
            let readers = [try await EventCollector(a, path: "/busy/"), try await EventCollector(b, path: "/busy/")]
            let acknowledged = Acknowledged()
            let stopAt = ContinuousClock.now + .seconds(10)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<20 {
                    let node = writer % 2 == 0 ? a : b
                    group.addTask {
                        var count = 0
                        while ContinuousClock.now < stopAt {
                            count += 1
                            let response = try await node.send(.PUT, "/busy/w\(writer)", json: #"{"n":\#(count)}"#)
                            guard (200...201).contains(response.status), let tag = response.header("ETag") else {
                                throw TestFailure("write answered \(response.status)")
                            }
                            let digits = tag.trimmingCharacters(in: CharacterSet(charactersIn: "\"")).split(separator: "-").last ?? ""
                            acknowledged.list.withLock { $0.append(UInt64(digits, radix: 36) ?? 0) }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let written = acknowledged.list.withLock { $0 }.sorted()
            #expect(written.count > 100, "the writers made progress: \(written.count) writes")
            #expect(Set(written).count == written.count, "no sequence number was handed out twice")
            // Nothing beyond the acknowledged writes, either: a last write, made after all of
            // them, is the next event each node sends.
            #expect(try await a.send(.PUT, "/busy/fence", json: "{}").status == 201)
            var seenByNode: [[UInt64]] = []
            for reader in readers {
                let seen = try await reader.first(written.count + 1)
                seenByNode.append(seen.prefix(written.count).map { Checkpoint(token: $0.id ?? "")?.sequence ?? 0 })
                #expect((try? JSONValue(parsing: seen[written.count].data))?["path"] == .string("/busy/fence"), "an event beyond the writes")
                reader.stop()
            }
            #expect(seenByNode[0] == written, "node A saw every write once, in sequence order")
            #expect(seenByNode[1] == written, "node B saw every write once, in sequence order")
        }
    }

    @Test func aDroppedListenerConnectionLosesNoEvent() async throws {
        try await Self.withTwoNodes { nodes in
            let (a, b) = (nodes.a, nodes.b)
            let onB = try await EventCollector(b, path: "/steady/")
            let listener = "eddy-listener-" + b.server.nodeID
            let location = try PostgresLocation(url: nodes.storeURL)
            var logger = Logger(label: "cluster-test")
            logger.logLevel = .error
            var configuration = PostgresConnection.Configuration(
                host: location.host, port: location.port, username: location.username, password: location.password,
                database: location.database, tls: .disable)
            configuration.options.additionalStartupParameters = [("application_name", "eddy-cluster-test")]
            let admin = try await PostgresConnection.connect(configuration: configuration, id: 7, logger: logger)
            func listenerPIDs() async throws -> [Int32] {
                try await admin.query(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = \(listener)", logger: logger
                ).collect().map { try $0.decode(Int32.self) }
            }
            let original = try await listenerPIDs()
            #expect(original.count == 1, "node B listens on one connection")
            for index in 1...40 {
                _ = try await a.send(.PUT, "/steady/\(index)", json: #"{"i":\#(index)}"#)
                if index == 15 {
                    try await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = \(listener)", logger: logger)
                }
            }
            let seen = try await onB.first(40).compactMap { (try? JSONValue(parsing: $0.data))?["path"] }
            #expect(seen == (1...40).map { .string("/steady/\($0)") }, "every write reached node B once, in order")
            // The listener came back on a new connection.
            let deadline = ContinuousClock.now + .seconds(10)
            var current = try await listenerPIDs()
            while (current.count != 1 || current == original) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
                current = try await listenerPIDs()
            }
            #expect(current.count == 1 && current != original, "node B listens again after losing its connection")
            try await admin.close()
        }
    }

    @Test func aWebhookIsDeliveredOnceNotOncePerNode() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await Self.withTwoNodes(configure: {
            $0.allowOutbound = [CIDR("127.0.0.0/8")!]
            $0.delivery.firstRetrySeconds = 0.05
        }) { nodes in
            let (a, b) = (nodes.a, nodes.b)
            _ = try await a.send(.PUT, "/hooked", json: #"{"n":0}"#)
            let callbacks = try #require(try await b.send(.GET, "/hooked").links["value-callback"])
            let form = "callback_uri=" + (receiver.url.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? receiver.url)
            #expect(try await TestHTTP.send(.POST, callbacks, body: form, contentType: "application/x-www-form-urlencoded").status == 201)
            for index in 1...6 {
                let node = index % 2 == 0 ? a : b
                #expect(try await node.send(.PUT, "/hooked", json: #"{"n":\#(index)}"#).status == 200)
            }
            // Each change once: a second node delivering too would have sent its copies of the
            // first six before the seventh, written only once the six had arrived.
            _ = try await receiver.waitFor(6)
            #expect(try await a.send(.PUT, "/hooked", json: #"{"n":7}"#).status == 200)
            let delivered = try await receiver.waitFor(7)
            #expect(delivered.map(\.body) == (1...7).map { #"{"n":\#($0)}"# })

            // The node holding the lease leaves; the other takes the deliveries over.
            await a.stop()
            #expect(try await b.send(.PUT, "/hooked", json: #"{"n":8}"#).status == 200)
            let after = try await receiver.waitFor(8, seconds: 15)
            #expect(after.last?.body == #"{"n":8}"#)
        }
    }

    @Test func aNodeKilledMidDeliveryLosesNoDelivery() async throws {
        let base = try #require(TestStore.postgresBase, "CI runs the cluster tests: set EDDY_TEST_POSTGRES")
        let url = TestStore.url(base: base, schema: TestStore.schemaName("k_" + UUID().uuidString))
        // The receiver refuses the first attempts, so the killed node dies with a delivery in flight.
        let receiver = try await WebhookReceiver.start(failFirst: 3)
        defer { Task { await receiver.stop() } }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-killed-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let doomed = try ChildServer(
            dataDirectory: directory, arguments: ["--store", url, "--lease-seconds", "2", "--allow-outbound", "127.0.0.0/8"])
        try await doomed.start()
        defer { doomed.signal(SIGKILL) }
        // Started first, the child holds the delivery lease; the survivor waits for it.
        let survivor = try await TestServer.start {
            $0.storeURL = url
            $0.leaseSeconds = 2
            $0.allowOutbound = [CIDR("127.0.0.0/8")!]
            $0.delivery.firstRetrySeconds = 0.05
        }
        do {
            _ = try await survivor.send(.PUT, "/hooked", json: #"{"n":0}"#)
            let callbacks = try #require(try await survivor.send(.GET, "/hooked").links["value-callback"])
            let form = "callback_uri=" + (receiver.url.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? receiver.url)
            #expect(try await TestHTTP.send(.POST, callbacks, body: form, contentType: "application/x-www-form-urlencoded").status == 201)
            for index in 1...3 { _ = try await survivor.send(.PUT, "/hooked", json: #"{"n":\#(index)}"#) }
            let deadline = ContinuousClock.now + .seconds(10)
            while receiver.attempts == 0 {
                guard ContinuousClock.now < deadline else { throw TestFailure("no delivery was attempted") }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try await Self.leaseHolder("deliveries:lr-webhook", storeURL: url) != survivor.server.nodeID, "the child delivers")
            doomed.signal(SIGKILL)
            _ = try await doomed.waitForExit()
            let delivered = try await receiver.waitFor(3, seconds: 20)
            // At least once: every change arrives, in order, none lost with the node.
            #expect(delivered.map(\.body) == (1...3).map { #"{"n":\#($0)}"# })
        } catch {
            await survivor.stop()
            throw error
        }
        await survivor.stop()
    }

    @Test func nodesStartingTogetherMigrateOnceAndShareOneLog() async throws {
        let base = try #require(TestStore.postgresBase, "CI runs the cluster tests: set EDDY_TEST_POSTGRES")
        let location = try PostgresLocation(url: TestStore.url(base: base, schema: TestStore.schemaName("m_" + UUID().uuidString)))
        let logger = { () -> Logger in
            var logger = Logger(label: "cluster-test")
            logger.logLevel = .error
            return logger
        }()
        let stores = try await withThrowingTaskGroup(of: PostgresStore.self) { group in
            for _ in 0..<4 { group.addTask { try await PostgresStore.open(location, logger: logger) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(stores.count == 4)
        #expect(Set(stores.map(\.epoch)).count == 1, "one epoch, made by whichever node created the schema")
        // The Concrnt server key is made once too, however many nodes race to make it.
        var keys = Set<String>()
        try await withThrowingTaskGroup(of: String.self) { group in
            for store in stores { group.addTask { try await ServerKey.load(from: store).ccid } }
            for try await key in group { keys.insert(key) }
        }
        #expect(keys.count == 1)
        let path = try ResourcePath(parsing: "/together")
        for (index, store) in stores.enumerated() {
            _ = try await store.commit(Mutation(path: path, operation: .put(.object(["by": .int(Int64(index))]))))
        }
        for store in stores {
            #expect(try await store.headSequence() == 4)
            #expect(try await store.resource(at: path)?.value == #"{"by":3}"#)
        }
        for store in stores { try await store.close() }
    }
}

@Suite struct StoreAvailabilityTests {
    @Test func anUnreachableDatabaseIsReportedAsUnavailable() async throws {
        var logger = Logger(label: "store-test")
        logger.logLevel = .critical
        // Port 1 on loopback: nothing listens there.
        let location = try PostgresLocation(url: "postgres://eddy@127.0.0.1:1/eddy?schema=nowhere")
        let started = ContinuousClock.now
        do {
            _ = try await PostgresStore.open(location, logger: logger)
            Issue.record("opening a store on a closed port succeeded")
        } catch let error as StoreError {
            guard case .unavailable = error else { Issue.record("unexpected \(error)"); return }
        }
        #expect(ContinuousClock.now - started < .seconds(30), "the failure is reported, not waited out forever")
    }

    @Test func storeURLsAreReadAndRefusedClearly() throws {
        let location = try PostgresLocation(url: "postgresql://ann:s%40cret@db.example:6543/tree?schema=eddy_b&sslmode=require")
        #expect(location.username == "ann" && location.password == "s@cret" && location.host == "db.example" && location.port == 6543)
        #expect(location.database == "tree" && location.schema == "eddy_b" && location.sslMode == .require)
        #expect(!location.description.contains("cret"), "the password stays out of logs")
        for bad in ["mysql://a@b/c", "postgres://b/c", "postgres://a@/c", "postgres://a@b/c?schema=Drop;Table", "postgres://a@b/c?sslmode=maybe"] {
            #expect(throws: PostgresLocation.InvalidURL.self, "\(bad)") { try PostgresLocation(url: bad) }
        }
    }
}
