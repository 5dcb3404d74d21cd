import ArgumentParser
import EddyClient
import EddyCore
import Foundation

/// `eddy watch <url>`: the resource's value, then every change, following the server through
/// disconnects and restarts and resuming where it stopped, so no change is missed or repeated.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print a resource's value and every change as it happens.",
        discussion: """
            Pretty JSON on a terminal; one JSON line per event when piped: {"event":…,"id":…,"data":…}, where event is \
            value, removed, child-added, child-changed, child-removed or resynced, id the position it brought the watch to, \
            and data the value or item (null when removed). With sse and ws every change arrives, also across reconnects; \
            poll follows values (long-polling), so an object changed several times while it is disconnected arrives as its \
            latest value. Without --protocol the best one the resource offers is used.
            """
    )

    @Argument(help: "The resource URL, e.g. http://127.0.0.1:8080/notes/first or …/notes/ for a collection.")
    var url: String

    @Option(help: "How to watch: sse (server-sent events), ws (the multiplex WebSocket) or poll (long-polling).")
    var `protocol`: LiveTransport?

    @Option(help: "Bearer token (EDDY_TOKEN).")
    var token: String?

    func run() async throws {
        let pretty = isatty(STDOUT_FILENO) == 1
        let resource = LiveResource(url, options: .init(transport: `protocol`, token: token ?? environment("TOKEN")))
        do {
            for try await event in resource {
                let line = pretty ? Self.prettyLine(event) : Self.jsonLine(event)
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            }
        } catch let error as LiveResourceError {
            throw ValidationError("\(url): \(error)")
        }
    }

    static func describe(_ event: LiveResourceEvent) -> (name: String, data: JSONValue) {
        switch event.kind {
        case .value(let value): ("value", value)
        case .removed: ("removed", .null)
        case .childAdded(let item): ("child-added", item)
        case .childChanged(let item): ("child-changed", item)
        case .childRemoved(let id): ("child-removed", .object(["id": .string(id), "deleted": .bool(true)]))
        case .resynced: ("resynced", .null)
        }
    }

    static func jsonLine(_ event: LiveResourceEvent) -> String {
        let (name, data) = describe(event)
        return "{\"event\":\(JSONValue.quoted(name)),\"id\":" + (event.position.map(JSONValue.quoted) ?? "null") + ",\"data\":" + data.text + "}"
    }

    static func prettyLine(_ event: LiveResourceEvent) -> String {
        let (name, data) = describe(event)
        return "— \(name)" + (event.position.map { " \($0)" } ?? "") + "\n" + pretty(data)
    }

    static func pretty(_ value: JSONValue, indent: String = "") -> String {
        switch value {
        case .object(let members) where !members.isEmpty:
            let inner = indent + "  "
            return "{\n" + members.map { inner + JSONValue.quoted($0.name) + ": " + pretty($0.value, indent: inner) }
                .joined(separator: ",\n") + "\n" + indent + "}"
        case .array(let items) where !items.isEmpty:
            let inner = indent + "  "
            return "[\n" + items.map { inner + pretty($0, indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        default:
            return value.text
        }
    }
}

extension LiveTransport: ExpressibleByArgument {}
