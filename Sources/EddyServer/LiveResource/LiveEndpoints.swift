import EddyCore

/// Where LiveResource's non-resource endpoints live, under the reserved `/.eddy/` prefix, and
/// the Link headers that let a client discover them from any resource.
enum LiveEndpoints {
    static let valueStream = "/.eddy/value-stream"
    static let changesStream = "/.eddy/changes-stream"
    static let valueCallbacks = "/.eddy/value-callbacks"
    static let changesCallbacks = "/.eddy/changes-callbacks"
    static let multiplexWait = "/.eddy/multi/"
    static let multiplexStream = "/.eddy/multi-stream/"
    static let multiplexSocket = "/.eddy/ws"

    /// The resource path named by the rest of an endpoint's path (`/.eddy/value-stream/a/b`).
    static func resource(after prefix: String, in rawPath: String) throws -> ResourcePath {
        let rest = rawPath.dropFirst(prefix.count)
        return try ResourcePath(parsing: rest.isEmpty ? "/" : rest)
    }

    /// The changes URI of a collection from a checkpoint.
    static func changesURI(_ base: String, _ collection: ResourcePath, after checkpoint: Checkpoint, max: Int?) -> String {
        var uri = base + collection.encoded + "?after=" + checkpoint.token
        if let max { uri += "&max=\(max)" }
        return uri
    }

    static func webSocketURL(_ base: String) -> String {
        webSocketScheme(base + multiplexSocket)
    }

    /// The same URL with `ws:`/`wss:` for `http:`/`https:`.
    static func webSocketScheme(_ url: String) -> String {
        if url.hasPrefix("https://") { return "wss://" + url.dropFirst(8) }
        if url.hasPrefix("http://") { return "ws://" + url.dropFirst(7) }
        return url
    }

    /// Solid discovery, on every resource response.
    static func storageDescriptionLink(_ base: String) -> String {
        "<\(base)/.well-known/solid>; rel=\"http://www.w3.org/ns/solid/terms#storageDescription\""
    }

    static func multiplexLinks(_ base: String) -> [String] {
        [
            storageDescriptionLink(base),
            "<\(base)\(multiplexWait)>; rel=\"multiplex-wait\"",
            "<\(base)\(multiplexStream)>; rel=\"multiplex-stream\"",
            "<\(webSocketURL(base))>; rel=\"multiplex-ws\"",
        ]
    }

    static func objectLinks(_ base: String, _ path: ResourcePath) -> [String] {
        let encoded = path.encoded
        return [
            "<\(base)\(encoded)>; rel=\"value-wait\"",
            "<\(base)\(valueStream)\(encoded)>; rel=\"value-stream\"",
            "<\(base)\(valueCallbacks)\(encoded)/>; rel=\"value-callback\"",
        ] + multiplexLinks(base)
    }

    static func collectionLinks(_ base: String, _ path: ResourcePath, checkpoint: Checkpoint, max: Int?) -> [String] {
        let encoded = path.encoded
        return [
            "<\(changesURI(base, path, after: checkpoint, max: max))>; rel=\"changes changes-wait\"",
            "<\(base)\(changesStream)\(encoded)>; rel=\"changes-stream\"",
            "<\(base)\(changesCallbacks)\(encoded)>; rel=\"changes-callback\"",
            "<\(base)/.eddy/timeline\(encoded)>; rel=\"chunked-timeline\"; type=\"application/chunked-timeline+json\"",
        ] + multiplexLinks(base)
    }
}
