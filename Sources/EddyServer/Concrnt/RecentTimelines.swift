import EddyCore
import Foundation
import Hummingbird

/// `net.concrnt.world.timeline.recent`, as the deployed web client reads its first page: the
/// newest entries across several timelines, `GET /.eddy/concrnt/recent?uris=a,b&until=…&limit=…`.
/// Each timeline must be readable by the caller (401/403 as everywhere), and each entry is
/// shown only where the caller may read it, as in every listing.
struct RecentTimelines: Sendable {
    static let defaultLimit = 16
    static let maximumLimit = 64
    /// Timelines one request may name: each is a query of the store.
    static let maximumTimelines = 64

    let store: any ResourceStore
    let access: AccessController

    func respond(_ request: Request, exchange: Exchange) async throws -> Response {
        let query = try Query(rawQuery: request.uri.query ?? "")
        var seen = Set<ByteIdentity>()
        var entries: [StoredResource] = []
        for uri in query.timelines {
            let members = try uri.membersPath
            try access.authorize(exchange.identity, to: .read, at: members)
            let admits = access.eventAdmission(for: .children(members), identity: exchange.identity) ?? { _ in true }
            let newest = try await store.timeline(of: members, from: .min, to: query.until, descending: true, limit: query.limit)
            entries += newest.filter { admits($0.path) }
        }
        // Newest first; among equals by path, so a page is the same every time it is asked.
        entries.sort { $0.createdAt != $1.createdAt ? $0.createdAt > $1.createdAt : ByteIdentity($0.path.description) < ByteIdentity($1.path.description) }
        var items: [String] = []
        for entry in entries where items.count < query.limit {
            // A document on several of the timelines is listed once.
            let item = ChunkedTimeline.item(of: entry, baseURL: exchange.baseURL)
            if seen.insert(ByteIdentity(item.href)).inserted { items.append(item.text) }
        }
        return .json(.ok, "[" + items.joined(separator: ",") + "]")
    }

    /// The request's parameters, read from the raw query: `uris` is a comma-separated list
    /// (RFC 6570 `{?uris}`) whose items are percent-decoded one by one, so a key holding an
    /// encoded comma stays whole.
    struct Query {
        var timelines: [ConcrntURI] = []
        /// Entries created before this instant (milliseconds since 1970) are listed.
        var until: Int64 = .max
        var limit = RecentTimelines.defaultLimit

        init(rawQuery: String) throws {
            var sawURIs = false
            for pair in rawQuery.split(separator: "&") {
                let (name, value) = pair.firstIndex(of: "=").map { (pair[..<$0], pair[pair.index(after: $0)...]) } ?? (pair, "")
                switch name {
                case "uris":
                    sawURIs = true
                    for item in value.split(separator: ",") where !item.isEmpty {
                        guard timelines.count < RecentTimelines.maximumTimelines else {
                            throw Problem.badRequest("too-many-timelines", "uris names more than \(RecentTimelines.maximumTimelines) timelines")
                        }
                        guard let text = String(item).removingPercentEncoding else {
                            throw Problem.badRequest("invalid-uri", "\(item) is not percent-encoded UTF-8")
                        }
                        timelines.append(try ConcrntURI(parsing: text))
                    }
                case "until":
                    until = try Self.instant(String(value).removingPercentEncoding ?? "")
                case "limit":
                    guard let asked = Int(value), asked > 0 else {
                        throw Problem.badRequest("invalid-parameter", "limit must be a positive integer, got '\(value)'")
                    }
                    limit = min(asked, RecentTimelines.maximumLimit)
                default:
                    continue
                }
            }
            guard sawURIs, !timelines.isEmpty else { throw Problem.badRequest("invalid-parameter", "uris must name at least one timeline") }
        }

        /// `until` as unix seconds or an RFC 3339 instant, in milliseconds.
        private static func instant(_ text: String) throws -> Int64 {
            if let seconds = Int64(text) {
                let (milliseconds, overflow) = seconds.multipliedReportingOverflow(by: 1000)
                guard !overflow else { throw Problem.badRequest("invalid-parameter", "until is out of range: \(text)") }
                return milliseconds
            }
            guard let date = Instant.parse(text) else {
                throw Problem.badRequest("invalid-parameter", "until must be unix seconds or an RFC 3339 instant, got '\(text)'")
            }
            guard let milliseconds = Int64(exactly: (date.timeIntervalSince1970 * 1000).rounded(.down)) else {
                throw Problem.badRequest("invalid-parameter", "until is out of range: \(text)")
            }
            return milliseconds
        }
    }
}
