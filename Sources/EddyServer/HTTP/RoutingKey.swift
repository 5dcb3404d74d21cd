/// What the router matches instead of the raw path. Hummingbird's trie skips empty segments
/// (so `/a/` and `/a` and `/a//b` and `/a/b` look alike) and has no way to say "any path not
/// under `/.`"; Eddy tells those apart, so the key spells them out:
/// - every empty segment, a trailing slash included, becomes `emptySegment` (`%`, which no valid
///   path has as a segment: a client's own `%` segment is kept apart as `%%`);
/// - a resource path (any path but `/healthz` that does not start with `/.`) is put below
///   `resources`, so no endpoint's route can catch a resource and no resource route an endpoint.
/// Handlers never see the key: `KeyedRouter` only looks it up, and they get the client's request.
enum RoutingKey {
    static let emptySegment = "%"
    static let resources = "%resources"

    /// Route patterns: a resource object anywhere, a collection anywhere, the root collection.
    static let resourceObject = "/\(resources)/**"
    static let resourceCollection = "/\(resources)/**/\(emptySegment)"
    static let rootCollection = "/\(resources)/\(emptySegment)"

    /// The pattern of every path below an endpoint prefix (`/.eddy/value-stream/a/b`).
    static func below(_ prefix: some StringProtocol) -> String {
        key(for: String(prefix)) + "/**"
    }

    static func isResource(_ rawPath: String) -> Bool {
        !rawPath.utf8.starts(with: "/.".utf8) && !rawPath.utf8.elementsEqual(HealthRoutes.path.utf8)
    }

    static func key(for rawPath: String) -> String {
        var key = isResource(rawPath) ? "/" + resources : ""
        let segments = rawPath.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst()
        for segment in segments {
            key += "/"
            if segment.isEmpty {
                key += emptySegment
            } else if segment.elementsEqual(emptySegment.utf8) {
                key += emptySegment + emptySegment
            } else {
                key += String(Substring(segment))
            }
        }
        return key.isEmpty ? "/" + emptySegment : key
    }
}
