import EddyCore

/// One line a `solid-0.1` client sends (the legacy protocol of SolidOS and rdflib.js), parsed
/// without a socket. The protocol has one command: `sub <uri>`, where the URI is absolute
/// (`https://host/path`) or host-relative (`/path`) and names a resource of this server.
struct LegacyCommand: Equatable, Sendable {
    /// The resource's absolute URI, as `ack` and `pub` name it: the client's own text when it
    /// sent an absolute URI, else this server's origin before the path it sent. No fragment.
    let uri: String
    let path: ResourcePath

    /// Why a line was refused, sent back as `error <reason>`.
    struct Refusal: Error, Equatable {
        let reason: String
    }

    /// Parses one line from a socket reached as `host` (its `Host`, absent on HTTP/1.0) over
    /// `scheme` (`http` or `https`).
    static func parse(_ line: Substring, host: String?, scheme: String) throws(Refusal) -> LegacyCommand {
        let words = line.split(separator: " ", omittingEmptySubsequences: true)
        guard let verb = words.first else { throw Refusal(reason: "empty line; solid-0.1 takes sub <uri>") }
        guard verb == "sub" else {
            throw Refusal(reason: "unknown command \(Self.quoted(verb)); solid-0.1 takes sub <uri>")
        }
        guard words.count == 2 else { throw Refusal(reason: "sub takes exactly one URI") }
        var target = words[1]
        if let hash = target.firstIndex(of: "#") { target = target[..<hash] }
        guard !target.contains("?") else {
            throw Refusal(reason: "\(target) has a query; a subscription names a resource by its path")
        }
        let origin: String
        let rawPath: Substring
        if target.hasPrefix("/") && !target.hasPrefix("//") {
            guard let host else { throw Refusal(reason: "\(target) is host-relative, but the socket was opened without a Host") }
            origin = scheme + "://" + host
            rawPath = target
        } else if let separator = target.range(of: "://"), ["http", "https"].contains(target[..<separator.lowerBound].lowercased()) {
            let afterScheme = target[separator.upperBound...]
            let authority = afterScheme.prefix { $0 != "/" }
            guard !authority.isEmpty else { throw Refusal(reason: "\(target) names no host") }
            guard let host, Authority.same(authority, host[...], scheme: target[..<separator.lowerBound]) else {
                throw Refusal(reason: "Mismatched host: \(authority) is not this server (\(host ?? "no Host"))")
            }
            origin = String(target[..<authority.endIndex])
            rawPath = afterScheme[authority.endIndex...]
        } else {
            throw Refusal(reason: "\(target) is neither an absolute http(s) URI nor a host-relative path")
        }
        let path: ResourcePath
        do {
            path = try ResourcePath(parsing: rawPath.isEmpty ? "/" : rawPath)
        } catch {
            throw Refusal(reason: "\(target) names no resource: \(error)")
        }
        return LegacyCommand(uri: origin + (rawPath.isEmpty ? "/" : rawPath), path: path)
    }

    /// A word of the client's, cut short and with control characters shown, for an error line.
    private static func quoted(_ word: Substring) -> String {
        let shown = word.prefix(40).unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : String($0) }.joined()
        return "'" + shown + (word.count > 40 ? "…'" : "'")
    }
}
