/// Query and path surgery on the URLs a server hands out.
enum ResourceURL {
    /// The `after=` checkpoint of a changes URI.
    static func checkpoint(in url: String) -> String? {
        guard let query = url.split(separator: "?", maxSplits: 1).dropFirst().first else { return nil }
        for parameter in query.split(separator: "&") where parameter.hasPrefix("after=") {
            return String(parameter.dropFirst(6))
        }
        return nil
    }

    /// The changes URI with its `after=` set to `checkpoint` (added when missing).
    static func changesURL(_ url: String, after checkpoint: String) -> String {
        let parts = url.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var parameters = parts.count > 1 ? parts[1].split(separator: "&").map(String.init) : []
        parameters.removeAll { $0.hasPrefix("after=") }
        parameters.insert("after=" + checkpoint, at: 0)
        return String(parts[0]) + "?" + parameters.joined(separator: "&")
    }

    /// The path of an absolute URL (still percent-encoded, without query or fragment): how a
    /// multiplexed subscription names the resource.
    static func path(of url: String) -> String {
        let afterScheme = url.range(of: "://").map { url[$0.upperBound...] } ?? Substring(url)
        guard let slash = afterScheme.firstIndex(of: "/") else { return "/" }
        return String(afterScheme[slash...].prefix { $0 != "?" && $0 != "#" })
    }
}
