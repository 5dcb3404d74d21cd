import AsyncHTTPClient
import EddyCore
@testable import EddyServer
import EddyTestSupport
import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOCore
import Synchronization
import Testing

/// Reads notifications from a channel of any type, one JSON object at a time.
final class NotificationReader: @unchecked Sendable {
    private let stream: AsyncStream<JSONValue>
    private var iterator: AsyncStream<JSONValue>.AsyncIterator
    private let stopReading: @Sendable () -> Void

    private init(stream: AsyncStream<JSONValue>, stop: @escaping @Sendable () -> Void) {
        self.stream = stream
        self.iterator = stream.makeAsyncIterator()
        self.stopReading = stop
    }

    func next(within seconds: Double = 10) async throws -> JSONValue {
        let box = UncheckedBox(iterator)
        let value = try await withTimeout(seconds) { () -> JSONValue? in
            var local = box.value
            let value = await local.next()
            box.value = local
            return value
        }
        iterator = box.value
        guard let value else { throw TestFailure("the channel closed") }
        return value
    }

    /// True when nothing arrives within `seconds`.
    func isQuiet(for seconds: Double) async -> Bool {
        (try? await next(within: seconds)) == nil
    }

    func stop() { stopReading() }

    final class UncheckedBox<T>: @unchecked Sendable {
        var value: T
        init(_ value: T) { self.value = value }
    }

    /// Connects to a channel as its type requires: EventSource, streaming HTTP, WebSocket or a webhook receiver.
    static func connect(_ channel: JSONValue, receiver: WebhookReceiver? = nil, headers: [(String, String)] = []) async throws -> NotificationReader {
        let (stream, continuation) = AsyncStream<JSONValue>.makeStream()
        guard case .string(let type)? = channel["type"] else { throw TestFailure("no type in \(channel)") }
        switch type {
        case "EventSourceChannel2023", "StreamingHTTPChannel2023":
            guard case .string(let url)? = channel["receiveFrom"] else { throw TestFailure("no receiveFrom") }
            var request = HTTPClientRequest(url: url)
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
            guard response.status == .ok else { throw TestFailure("receiveFrom answered \(response.status)") }
            let isSSE = type == "EventSourceChannel2023"
            let task = Task {
                var pending = ""
                for try await chunk in response.body {
                    pending += String(buffer: chunk)
                    let separator = isSSE ? "\n\n" : "\n"
                    while let range = pending.range(of: separator) {
                        let block = String(pending[..<range.lowerBound])
                        pending = String(pending[range.upperBound...])
                        // Only notifications: the `error` event that says why a stream ends is not one.
                        if isSSE, block.split(separator: "\n").contains(where: { $0.hasPrefix("event: ") && $0 != "event: message" }) { continue }
                        let text = isSSE
                            ? block.split(separator: "\n").filter { $0.hasPrefix("data: ") }.map { String($0.dropFirst(6)) }.joined(separator: "\n")
                            : block
                        if let json = try? JSONValue(parsing: text) { continuation.yield(json) }
                    }
                }
                continuation.finish()
            }
            return NotificationReader(stream: stream, stop: { task.cancel() })
        case "WebSocketChannel2023", "WebSocketSubscription2021":
            guard case .string(let url)? = channel["receiveFrom"] ?? channel["source"] else { throw TestFailure("no socket URL") }
            var logger = Logger(label: "solid-ws")
            logger.logLevel = .critical
            let stop = AsyncStream<Void>.makeStream()
            let task = Task {
                _ = try? await WebSocketClient.connect(url: url, logger: logger) { inbound, _, _ in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for try await message in inbound.messages(maxSize: 1 << 20) {
                                if case .text(let text) = message, let json = try? JSONValue(parsing: text) { continuation.yield(json) }
                            }
                        }
                        group.addTask { for await _ in stop.stream {} }
                        try await group.next()
                        group.cancelAll()
                    }
                }
                continuation.finish()
            }
            _ = task
            return NotificationReader(stream: stream, stop: { stop.continuation.finish() })
        case "WebhookChannel2023":
            guard let receiver else { throw TestFailure("a webhook channel needs a receiver") }
            let task = Task {
                var index = 0
                while !Task.isCancelled {
                    let deliveries = receiver.deliveries
                    while index < deliveries.count {
                        if let json = try? JSONValue(parsing: deliveries[index].body) { continuation.yield(json) }
                        index += 1
                    }
                    try? await Task.sleep(for: .milliseconds(20))
                }
            }
            return NotificationReader(stream: stream, stop: { task.cancel() })
        default:
            throw TestFailure("unknown channel type \(type)")
        }
    }
}

@Suite struct SolidTests {
    static let types = ["WebSocketSubscription2021", "EventSourceChannel2023", "WebSocketChannel2023", "StreamingHTTPChannel2023", "WebhookChannel2023"]

    static func configure(_ configuration: inout ServerConfiguration) {
        configuration.allowOutbound = [CIDR("127.0.0.0/8")!]
        configuration.delivery.firstRetrySeconds = 0.05
    }

    /// From a bare resource URL to the subscription service of `type`, through Link headers
    /// and the storage description only.
    static func discoverService(_ resourceURL: String, type: String, accept: String = "application/ld+json") async throws -> String {
        let resource = try await TestHTTP.send(.HEAD, resourceURL)
        let description = try #require(resource.links["http://www.w3.org/ns/solid/terms#storageDescription"])
        let document = try await TestHTTP.send(.GET, description, headers: [("Accept", accept)])
        #expect(document.header("Content-Type") == "application/ld+json")
        guard case .array(let services)? = document.json?["subscription"] else { throw TestFailure("no subscription services") }
        for service in services where service["channelType"] == .string(type) {
            if case .string(let id)? = service["id"] { return id }
        }
        throw TestFailure("no service for \(type)")
    }

    /// Connects a reader and waits until the server holds its subscription, so no write is
    /// made before the channel listens.
    static func connected(_ channel: JSONValue, receiver: WebhookReceiver?, server: TestServer) async throws -> NotificationReader {
        let before = server.server.hub.subscriberCount
        let reader = try await NotificationReader.connect(channel, receiver: receiver)
        if channel["type"] != .string("WebhookChannel2023") {
            try await server.waitForSubscribers(atLeast: before + 1)
        }
        return reader
    }

    /// Waits until the server at `baseURL` (a child process, whose hub a test cannot see)
    /// counts a notification channel's subscription on its status stream.
    static func channelSubscribed(at baseURL: String) async throws {
        try await withTimeout(10) {
            var status = try await SSEReader.open(baseURL + "/.eddy/status")
            while let sample = try await status.next() {
                let channels = (try? JSONValue(parsing: sample.data))?["connections"]?["solid/notification-channel"]
                if case .int(let count)? = channels, count > 0 { return }
            }
            throw TestFailure("the status stream ended")
        }
    }

    static func subscribe(
        _ service: String, type: String, topic: String, extra: String = "", headers: [(String, String)] = [],
        context: String = "https://www.w3.org/ns/solid/notification/v1"
    ) async throws -> TestResponse {
        let body = #"{"@context":["\#(context)"],"type":"\#(type)","topic":"\#(topic)"\#(extra)}"#
        return try await TestHTTP.send(.POST, service, headers: headers, body: body, contentType: "application/ld+json")
    }

    @Test(arguments: types)
    func everyChannelTypeDeliversCreateUpdateDeleteAndAddRemove(type: String) async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await TestServer.with(configure: Self.configure) { server in
            _ = try await server.send(.PUT, "/notes/topic", json: #"{"v":0}"#)
            let topic = server.baseURL + "/notes/topic"
            let service = try await Self.discoverService(topic, type: type)
            let extra = type == "WebhookChannel2023" ? #","sendTo":"\#(receiver.url)""# : ""
            let response = try await Self.subscribe(service, type: type, topic: topic, extra: extra)
            #expect(response.status == 200, "\(response.body)")
            #expect(response.header("Content-Type") == "application/ld+json")
            let channel = try #require(response.json)
            #expect(channel["type"] == .string(type))
            #expect(channel["topic"] == .string(topic))
            if case .string(let id)? = channel["id"] { #expect(id.hasPrefix(server.baseURL)) } else { Issue.record("no id") }
            switch type {
            case "WebSocketSubscription2021":
                if case .string(let source)? = channel["source"] { #expect(source.hasPrefix("ws://")) } else { Issue.record("no source") }
            case "WebhookChannel2023":
                #expect(channel["sendTo"] == .string(receiver.url))
                #expect(channel["sender"] != nil)
            case "WebSocketChannel2023":
                if case .string(let url)? = channel["receiveFrom"] { #expect(url.hasPrefix("ws://")) } else { Issue.record("no receiveFrom") }
            default:
                if case .string(let url)? = channel["receiveFrom"] { #expect(url.hasPrefix("http://")) } else { Issue.record("no receiveFrom") }
            }

            let reader = try await Self.connected(channel, receiver: receiver, server: server)
            defer { reader.stop() }
            let updated = try await server.send(.PUT, "/notes/topic", json: #"{"v":1}"#)
            _ = try await server.send(.DELETE, "/notes/topic")
            let recreated = try await server.send(.PUT, "/notes/topic", json: #"{"v":2}"#)
            let update = try await reader.next()
            let delete = try await reader.next()
            let create = try await reader.next()
            #expect(update["type"] == .string("Update"))
            #expect(update["object"] == .string(topic))
            #expect(update["state"] == updated.header("ETag").map(JSONValue.string))
            #expect(delete["type"] == .string("Delete"))
            #expect(delete["state"] == nil)
            #expect(create["type"] == .string("Create"))
            #expect(create["state"] == recreated.header("ETag").map(JSONValue.string))
            for notification in [update, delete, create] {
                #expect(notification["@context"] != nil)
                #expect(notification["published"] != nil)
                if case .string(let id)? = notification["id"] { #expect(!id.isEmpty) } else { Issue.record("no id") }
            }
            #expect(Set([update["id"], delete["id"], create["id"]]).count == 3)

            // A container topic gets Add and Remove with target.
            let containerTopic = server.baseURL + "/notes/"
            let containerChannel = try #require(try await Self.subscribe(service, type: type, topic: containerTopic, extra: extra).json)
            // A webhook container reader also reads the object channel's deliveries (the
            // receiver is shared); those carry no target and are passed over below.
            let containerReader = try await Self.connected(containerChannel, receiver: receiver, server: server)
            defer { containerReader.stop() }
            _ = try await server.send(.PUT, "/notes/child", json: "{}")
            _ = try await server.send(.DELETE, "/notes/child")
            var seen: [JSONValue] = []
            while seen.count < 2 {
                let notification = try await containerReader.next()
                if notification["target"] != nil { seen.append(notification) }
            }
            #expect(seen.map { $0["type"] } == [.string("Add"), .string("Remove")])
            #expect(seen.allSatisfy { $0["target"] == .string(containerTopic) && $0["object"] == .string(server.baseURL + "/notes/child") })
        }
    }

    @Test func discoveryAlsoServesTurtleAndTheOldShape() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/d", json: "{}")
            let description = try #require(try await server.send(.GET, "/d").links["http://www.w3.org/ns/solid/terms#storageDescription"])
            let turtle = try await TestHTTP.send(.GET, description, headers: [("Accept", "text/turtle")])
            #expect(turtle.header("Content-Type") == "text/turtle")
            #expect(turtle.body.contains("notify:channelType notify:WebSocketChannel2023"))
            let json = try await TestHTTP.send(.GET, description)
            guard case .array(let legacy)? = json.json?["notificationChannel"] else { Issue.record("no 0.1.0 shape"); return }
            #expect(legacy.contains { $0["type"] == .string("WebSocketSubscription2021") && $0["subscription"] != nil })
            let service = try await Self.discoverService(server.baseURL + "/d", type: "EventSourceChannel2023")
            let options = try await TestHTTP.send(.OPTIONS, service)
            #expect(options.status == 204)
            #expect(options.header("Allow")?.contains("POST") == true)
            #expect(try await TestHTTP.send(.GET, service).json?["channelType"] == .string("EventSourceChannel2023"))
            #expect(try await TestHTTP.send(.HEAD, service).status == 200)
        }
    }

    @Test func requestsAreValidatedWithProblems() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/v", json: "{}")
            let topic = server.baseURL + "/v"
            let service = try await Self.discoverService(topic, type: "EventSourceChannel2023")
            func expectProblem(_ response: TestResponse, _ status: Int, _ note: String) {
                #expect(response.status == status, "\(note): \(response.status) \(response.body)")
                #expect(response.header("Content-Type") == "application/problem+json", "\(note)")
            }
            let valid = #"{"@context":"https://www.w3.org/ns/solid/notification/v1","type":"EventSourceChannel2023","topic":"\#(topic)"}"#
            expectProblem(try await TestHTTP.send(.POST, service, body: valid, contentType: "application/json"), 415, "plain JSON")
            expectProblem(try await TestHTTP.send(.POST, service, body: valid, contentType: "text/turtle"), 415, "turtle")
            expectProblem(
                try await TestHTTP.send(.POST, service, body: valid, contentType: #"application/ld+json; profile="https://example.org/other""#), 415,
                "unknown profile")
            for (body, note) in [
                (#"{"@context":["https://www.w3.org/ns/solid/notification/v1"],"type":"EventSourceChannel2023"}"#, "missing topic"),
                (#"{"@context":["https://www.w3.org/ns/solid/notification/v1"],"type":"EventSourceChannel2023","topic":["\#(topic)","\#(topic)2"]}"#, "two topics"),
                (#"{"@context":["https://www.w3.org/ns/solid/notification/v1"],"type":"CarrierPigeon2024","topic":"\#(topic)"}"#, "unknown type"),
                (#"{"@context":["https://example.org/context"],"type":"EventSourceChannel2023","topic":"\#(topic)"}"#, "unknown context"),
                (#"{"@context":["https://www.w3.org/ns/solid/notification/v1"],"type":"EventSourceChannel2023","topic":"\#(topic)","rate":"often"}"#, "bad rate"),
                (#"{"@context":["https://www.w3.org/ns/solid/notification/v1"],"type":"EventSourceChannel2023","topic":"\#(topic)","endAt":"2001-01-01T00:00:00Z"}"#, "endAt in the past"),
                (#"{"@context":["https://www.w3.org/ns/solid/notification/v1"],"type":"EventSourceChannel2023","topic":"\#(topic)","startAt":"soon"}"#, "bad startAt"),
                ("not json", "not JSON"),
            ] {
                expectProblem(try await TestHTTP.send(.POST, service, body: body, contentType: "application/ld+json"), 422, note)
            }
            expectProblem(try await Self.subscribe(service, type: "EventSourceChannel2023", topic: "https://elsewhere.example/v"), 404, "foreign topic")
            expectProblem(try await Self.subscribe(service, type: "EventSourceChannel2023", topic: topic + "-missing"), 404, "missing topic resource")
            // Both context URIs and the full type IRI (in both namespace spellings) are accepted.
            for (type, context) in [
                ("http://www.w3.org/ns/solid/notifications#EventSourceChannel2023", "https://www.w3.org/ns/solid/notifications-context/v1"),
                ("http://www.w3.org/ns/solid/notification#EventSourceChannel2023", "https://www.w3.org/ns/solid/notification/v1"),
            ] {
                #expect(try await Self.subscribe(service, type: type, topic: topic, context: context).status == 200)
            }
        }
    }

    @Test func readPermissionIsRequired() async throws {
        let file = try Tokens.writePolicy(#"{"rules":[{"path":"/team/","read":["bob"],"write":["bob"]}]}"#)
        defer { try? FileManager.default.removeItem(at: file) }
        try await TestServer.with(configure: {
            $0.policyFile = file
            $0.jwtSecret = Tokens.secret
        }) { server in
            let bob = try await Tokens.bearer("bob")
            _ = try await server.send(.PUT, "/team/plan", headers: [bob], json: "{}")
            let topic = server.baseURL + "/team/plan"
            let service = server.baseURL + "/.eddy/solid/subscription/EventSourceChannel2023"
            #expect(try await Self.subscribe(service, type: "EventSourceChannel2023", topic: topic).status == 401)
            #expect(try await Self.subscribe(service, type: "EventSourceChannel2023", topic: topic, headers: [try await Tokens.bearer("carol")]).status == 403)
            #expect(try await Self.subscribe(service, type: "EventSourceChannel2023", topic: topic, headers: [try await Tokens.expired("bob")]).status == 401)
            let channel = try #require(try await Self.subscribe(service, type: "EventSourceChannel2023", topic: topic, headers: [bob]).json)
            // The capability URL needs no credentials: EventSource cannot send them.
            let reader = try await Self.connected(channel, receiver: nil, server: server)
            defer { reader.stop() }
            _ = try await server.send(.PUT, "/team/plan", headers: [bob], json: #"{"v":1}"#)
            #expect(try await reader.next()["type"] == .string("Update"))
        }
    }

    @Test func stateRateAndEndAtBehave() async throws {
        try await TestServer.with { server in
            let first = try #require(try await server.send(.PUT, "/f", json: #"{"v":0}"#).header("ETag"))
            let topic = server.baseURL + "/f"
            let service = try await Self.discoverService(topic, type: "EventSourceChannel2023")

            // state: a stale one triggers one notification at once; the current one does not.
            let stale = try #require(try await Self.subscribe(service, type: "EventSourceChannel2023", topic: topic, extra: #","state":"\"old\"""#).json)
            let staleReader = try await NotificationReader.connect(stale)
            defer { staleReader.stop() }
            let immediate = try await staleReader.next(within: 5)
            #expect(immediate["state"] == .string(first))
            let current = try #require(
                try await Self.subscribe(service, type: "EventSourceChannel2023", topic: topic, extra: #","state":\#(JSONValue.quoted(first))"#).json)
            let currentReader = try await Self.connected(current, receiver: nil, server: server)
            defer { currentReader.stop() }
            // Its first notification is of the next write, not one for the state it already has.
            let next = try #require(try await server.send(.PUT, "/f", json: #"{"v":"next"}"#).header("ETag"))
            #expect(try await currentReader.next()["state"] == .string(next))

            // rate: one per period, the last state of a burst delivered at the period's end. The
            // period (2 s) is long enough that a slow machine still fits the burst into one, and
            // the delay is measured from before the burst, which slowness can only lengthen.
            let rated = try #require(try await Self.subscribe(service, type: "EventSourceChannel2023", topic: topic, extra: #","rate":"PT2S""#).json)
            let ratedReader = try await Self.connected(rated, receiver: nil, server: server)
            defer { ratedReader.stop() }
            let beforeBurst = Date()
            var last = ""
            for index in 1...5 { last = try #require(try await server.send(.PUT, "/f", json: #"{"v":\#(index)}"#).header("ETag")) }
            let firstOfBurst = try await ratedReader.next()
            let endOfPeriod = try await ratedReader.next(within: 6)
            #expect(firstOfBurst["state"] != .string(last))
            #expect(endOfPeriod["state"] == .string(last))
            #expect(Date().timeIntervalSince(beforeBurst) > 1.9)
            // The burst is over: what comes next is the next write, not the burst's state again.
            let after = try #require(try await server.send(.PUT, "/f", json: #"{"v":"after"}"#).header("ETag"))
            #expect(try await ratedReader.next(within: 6)["state"] == .string(after))

            // endAt: the stream ends, and the capability is refused afterwards.
            let endAt = Instant.format(Date().addingTimeInterval(1.5))
            let ending = try #require(try await Self.subscribe(service, type: "EventSourceChannel2023", topic: topic, extra: #","endAt":"\#(endAt)""#).json)
            let endingReader = try await NotificationReader.connect(ending)
            // Ended by the server, not merely quiet: a timeout would be another error.
            await #expect(throws: TestFailure.self) {
                while true { _ = try await endingReader.next(within: 4) }
            }
            guard case .string(let receiveFrom)? = ending["receiveFrom"] else { Issue.record("no receiveFrom"); return }
            #expect(try await TestHTTP.send(.GET, receiveFrom).status == 404)
        }
    }

    @Test func eventSourceChannelsResumeWithLastEventID() async throws {
        try await TestServer.with { server in
            _ = try await server.send(.PUT, "/r", json: #"{"v":0}"#)
            let service = try await Self.discoverService(server.baseURL + "/r", type: "EventSourceChannel2023")
            let channel = try #require(try await Self.subscribe(service, type: "EventSourceChannel2023", topic: server.baseURL + "/r").json)
            guard case .string(let receiveFrom)? = channel["receiveFrom"] else { Issue.record("no receiveFrom"); return }
            let lastID = try await withTimeout(10) {
                var reader = try await SSEReader.open(receiveFrom)
                _ = try await server.send(.PUT, "/r", json: #"{"v":1}"#)
                return try #require(try await reader.next()?.id)
            }
            var states: [String] = []
            for index in 2...4 { states.append(try #require(try await server.send(.PUT, "/r", json: #"{"v":\#(index)}"#).header("ETag"))) }
            let missed = try await withTimeout(10) {
                var reader = try await SSEReader.open(receiveFrom, headers: [("Last-Event-ID", lastID)])
                var seen: [JSONValue] = []
                for _ in 0..<3 { seen.append(try JSONValue(parsing: try #require(try await reader.next()).data)["state"] ?? .null) }
                return seen
            }
            #expect(missed == states.map(JSONValue.string))
        }
    }

    @Test func deletedChannelsRefuseTheirCapabilityAndSurviveRestarts() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-solid-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try ChildServer(dataDirectory: directory)
        try await first.start()
        _ = try await TestHTTP.send(.PUT, first.baseURL + "/kept", body: "{}")
        let service = try await Self.discoverService(first.baseURL + "/kept", type: "EventSourceChannel2023")
        let channel = try #require(try await Self.subscribe(service, type: "EventSourceChannel2023", topic: first.baseURL + "/kept").json)
        first.signal(SIGTERM)
        _ = try await first.waitForExit()

        let second = try ChildServer(dataDirectory: directory, arguments: ["--port", String(Int(first.baseURL.split(separator: ":").last!)!)])
        try await second.start()
        defer { second.signal(SIGKILL) }
        let reader = try await NotificationReader.connect(channel)
        defer { reader.stop() }
        try await Self.channelSubscribed(at: second.baseURL)
        _ = try await TestHTTP.send(.PUT, second.baseURL + "/kept", body: #"{"v":1}"#)
        #expect(try await reader.next()["type"] == .string("Update"))

        guard case .string(let id)? = channel["id"], case .string(let receiveFrom)? = channel["receiveFrom"] else { return }
        #expect(try await TestHTTP.send(.DELETE, id).status == 205)
        #expect(try await TestHTTP.send(.DELETE, id).status == 404)
        #expect(try await TestHTTP.send(.GET, receiveFrom).status == 404)
    }
}
