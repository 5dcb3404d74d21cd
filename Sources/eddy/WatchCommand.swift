import ArgumentParser
import AsyncHTTPClient
import EddyCore
import Foundation
import NIOCore
import NIOHTTP1

/// `eddy watch <url>`: the resource's value, then every change, following the server through
/// disconnects and restarts and resuming where it stopped, so no change is missed or repeated.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print a resource's value and every change as it happens.",
        discussion: """
            Pretty JSON on a terminal; one JSON line per event when piped: {"id":…,"data":…} (data null when deleted). \
            With sse every change arrives, also across reconnects; poll follows values (long-polling), so changes made \
            while it is disconnected arrive as the latest value.
            """
    )

    enum Transport: String, ExpressibleByArgument, CaseIterable {
        case sse, poll
    }

    @Argument(help: "The resource URL, e.g. http://127.0.0.1:8080/notes/first or …/notes/ for a collection.")
    var url: String

    @Option(help: "How to watch: sse (server-sent events) or poll (long-polling).")
    var `protocol`: Transport = .sse

    @Option(help: "Bearer token (EDDY_TOKEN).")
    var token: String?

    func run() async throws {
        let watcher = Watcher(
            url: url, token: token ?? environment("TOKEN"), pretty: isatty(STDOUT_FILENO) == 1)
        try await watcher.run(using: `protocol`)
    }
}

/// Reconnecting watcher shared by the protocols.
struct Watcher: Sendable {
    let url: String
    let token: String?
    let pretty: Bool

    func run(using mode: WatchCommand.Transport) async throws {
        var resumeFrom: String?
        var etag: String?
        var links: [String: String] = [:]
        var delay = 0.25
        // The initial value (and the links to watch with), retried until the server answers.
        while links.isEmpty {
            do {
                let response = try await send(.GET, url, headers: [])
                guard response.status == .ok else {
                    throw ValidationError("\(url) answered \(response.status.code): \(response.body)")
                }
                links = Self.links(response.headers)
                etag = response.headers.first(name: "ETag")
                // An object's ETag is its log position: the stream resumes from it.
                resumeFrom = etag.map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) } ?? Self.checkpoint(links["changes"])
                emit(id: etag, data: response.body)
            } catch let error as ValidationError {
                throw error
            } catch {
                try await Task.sleep(for: .seconds(delay))
                delay = min(delay * 2, 5)
            }
        }
        delay = 0.25
        while !Task.isCancelled {
            do {
                switch mode {
                case .sse:
                    guard let stream = links["value-stream"] ?? links["changes-stream"] else { throw ValidationError("no stream link") }
                    try await followStream(stream, resumeFrom: &resumeFrom, delay: &delay)
                case .poll:
                    try await longPoll(links: links, etag: &etag, resumeFrom: &resumeFrom, delay: &delay)
                }
            } catch let error as ValidationError {
                throw error
            } catch {
                // The server went away: wait, then resume from the last position seen.
            }
            try await Task.sleep(for: .seconds(delay))
            delay = min(delay * 2, 5)
        }
    }

    private func followStream(_ stream: String, resumeFrom: inout String?, delay: inout Double) async throws {
        var request = HTTPClientRequest(url: stream)
        if let resumeFrom { request.headers.add(name: "Last-Event-ID", value: resumeFrom) }
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response = try await HTTPClient.shared.execute(request, timeout: .hours(24))
        guard response.status == .ok else { throw WatchError.status(response.status.code) }
        delay = 0.25
        var pending = ""
        for try await chunk in response.body {
            pending += String(buffer: chunk)
            while let end = pending.range(of: "\n\n") {
                let block = pending[..<end.lowerBound]
                pending = String(pending[end.upperBound...])
                var id: String?
                var event: String?
                var data: [String] = []
                for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                    if line.hasPrefix("id: ") { id = String(line.dropFirst(4)) }
                    if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
                    if line.hasPrefix("data:") { data.append(String(line.dropFirst(line.hasPrefix("data: ") ? 6 : 5))) }
                }
                if event == "reset" {
                    throw ValidationError("the server no longer holds the changes since \(resumeFrom ?? "the start"); watch again")
                }
                guard let id, !data.isEmpty else { continue }
                emit(id: id, data: data.joined(separator: "\n"))
                resumeFrom = id
            }
        }
    }

    private func longPoll(links: [String: String], etag: inout String?, resumeFrom: inout String?, delay: inout Double) async throws {
        if let wait = links["value-wait"] {
            var headers = [("Wait", "30")]
            if let etag { headers.append(("If-None-Match", etag)) }
            let response = try await send(.GET, wait, headers: headers)
            delay = 0.25
            switch response.status {
            case .ok:
                etag = response.headers.first(name: "ETag")
                emit(id: etag, data: response.body)
            case .notModified: return
            case .notFound:
                if etag != nil { emit(id: nil, data: "") }
                etag = nil
                try await Task.sleep(for: .seconds(1))
            default: throw WatchError.status(response.status.code)
            }
            return
        }
        guard let base = links["changes-wait"].map(Self.withoutQuery) else { throw ValidationError("no wait link") }
        let target = base + "?after=" + (resumeFrom ?? "")
        let response = try await send(.GET, target, headers: [("Wait", "30")])
        guard response.status == .ok else {
            if response.status == .notFound { throw ValidationError("the server no longer holds those changes; watch again") }
            throw WatchError.status(response.status.code)
        }
        delay = 0.25
        let next = Self.checkpoint(Self.links(response.headers)["changes"])
        if response.body != "[]" { emit(id: next, data: response.body) }
        resumeFrom = next ?? resumeFrom
    }

    private func emit(id: String?, data: String) {
        let value = data.isEmpty ? JSONValue.null : (try? JSONValue(parsing: data)) ?? .string(data)
        let line: String
        if pretty {
            line = (id.map { "— \($0)\n" } ?? "") + Self.pretty(value)
        } else {
            line = "{\"id\":" + (id.map(JSONValue.quoted) ?? "null") + ",\"data\":" + value.text + "}"
        }
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    private func send(_ method: HTTPMethod, _ url: String, headers: [(String, String)]) async throws -> (status: HTTPResponseStatus, headers: HTTPHeaders, body: String) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 16 << 20)
        return (response.status, response.headers, String(buffer: body))
    }

    static func links(_ headers: HTTPHeaders) -> [String: String] {
        var links: [String: String] = [:]
        for value in headers["Link"] {
            for link in value.split(separator: ",") {
                guard let open = link.firstIndex(of: "<"), let close = link.firstIndex(of: ">") else { continue }
                let target = String(link[link.index(after: open)..<close])
                if let rel = link[close...].range(of: "rel=\"") {
                    let rels = link[rel.upperBound...].prefix { $0 != "\"" }
                    for name in rels.split(separator: " ") { links[String(name)] = target }
                }
            }
        }
        return links
    }

    static func checkpoint(_ link: String?) -> String? {
        guard let link, let range = link.range(of: "after=") else { return nil }
        return String(link[range.upperBound...].prefix { $0 != "&" })
    }

    static func withoutQuery(_ link: String) -> String {
        String(link.split(separator: "?", maxSplits: 1).first ?? "")
    }

    static func pretty(_ value: JSONValue, indent: String = "") -> String {
        switch value {
        case .object(let members) where !members.isEmpty:
            let inner = indent + "  "
            return "{\n" + members.keys.sorted().map { inner + JSONValue.quoted($0) + ": " + pretty(members[$0]!, indent: inner) }
                .joined(separator: ",\n") + "\n" + indent + "}"
        case .array(let items) where !items.isEmpty:
            let inner = indent + "  "
            return "[\n" + items.map { inner + pretty($0, indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        default:
            return value.text
        }
    }
}

enum WatchError: Error {
    case status(UInt)
}
