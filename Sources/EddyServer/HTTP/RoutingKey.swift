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

    /// The three shapes of resource path, each with the pattern its key resolves to.
    enum ResourceShape {
        case object, collection, rootCollection

        var pattern: String {
            switch self {
            case .object: RoutingKey.resourceObject
            case .collection: RoutingKey.resourceCollection
            case .rootCollection: RoutingKey.rootCollection
            }
        }
    }

    /// A resource path's shape, told from the path alone (an object unless it ends in '/'), so
    /// the commonest requests need neither the key nor the trie. Nil for an endpoint's path,
    /// and for a path with an empty or `%` segment before its end, which the trie routes.
    static func resourceShape(of rawPath: String) -> ResourceShape? {
        guard isResource(rawPath) else { return nil }
        let bytes = rawPath.utf8
        guard bytes.last == UInt8(ascii: "/") else { return isRegular(bytes) ? .object : nil }
        if bytes.count == 1 { return .rootCollection }
        return isRegular(bytes.dropLast()) ? .collection : nil
    }

    static func isResource(_ rawPath: String) -> Bool {
        let bytes = rawPath.utf8
        var leading = bytes.makeIterator()
        if leading.next() == UInt8(ascii: "/"), leading.next() == UInt8(ascii: ".") { return false }
        return bytes.count != HealthRoutes.path.utf8.count || !bytes.elementsEqual(HealthRoutes.path.utf8)
    }

    static func key(for rawPath: String) -> String {
        guard isPlain(rawPath) else { return spelledOut(rawPath) }
        return isResource(rawPath) ? "/" + resources + rawPath : rawPath
    }

    /// Whether the key is the path itself (below `resources` for a resource).
    static func isPlain(_ rawPath: String) -> Bool {
        isRegular(rawPath.utf8)
    }

    /// Starts with '/' and has no empty segment and no `%` segment.
    private static func isRegular(_ path: some Collection<UInt8>) -> Bool {
        let slash = UInt8(ascii: "/"), percent = UInt8(ascii: "%")
        var last: UInt8 = 0, beforeLast: UInt8 = 0
        for byte in path {
            if byte == slash, last == slash || (last == percent && beforeLast == slash) { return false }
            beforeLast = last
            last = byte
        }
        return path.first == slash && last != slash && !(last == percent && beforeLast == slash)
    }

    /// The key built segment by segment.
    static func spelledOut(_ rawPath: String) -> String {
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
