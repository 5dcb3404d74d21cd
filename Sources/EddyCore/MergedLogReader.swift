/// Reads the change log after one position for several filters at once, in log order: one
/// page per filter at a time, merged by sequence number. A subscription to several resources
/// that resumes from one position must replay them interleaved as they were committed — one
/// filter after another would hand the client a later position before earlier events of the
/// other filters, and a client resuming from it would never get those.
///
/// It reads up to a fixed `head`, not "to the end": filters are read at different moments
/// while writes go on, and a filter that ran out early would otherwise leave a hole before the
/// later events another filter went on to read — a hole the caller, taking the replay as
/// complete up to its last event, would never fill from live events.
public struct MergedLogReader: Sendable {
    private let store: any ResourceStore
    private let filters: [SubscriptionFilter]
    private let head: SequenceNumber
    private let pageSize: Int
    private var cursors: [SequenceNumber]
    private var pages: [ArraySlice<ChangeEvent>]
    private var exhausted: [Bool]

    /// - Parameter head: the last position read; the log's head when the caller started
    ///   watching live events, so that everything after it comes live.
    public init(store: any ResourceStore, filters: [SubscriptionFilter], after: SequenceNumber, through head: SequenceNumber, pageSize: Int) {
        self.store = store
        self.filters = filters
        self.head = head
        self.pageSize = max(1, pageSize)
        cursors = Array(repeating: after, count: filters.count)
        pages = Array(repeating: [], count: filters.count)
        exhausted = Array(repeating: false, count: filters.count)
    }

    /// The next event of any filter, with the indices of every filter it matches; nil at the
    /// end (`head`). Throws what `events(after:)` throws (history truncated).
    public mutating func next() async throws -> (change: ChangeEvent, filters: [Int])? {
        for index in filters.indices where pages[index].isEmpty && !exhausted[index] {
            let page = try await store.events(after: cursors[index], matching: filters[index], limit: pageSize)
            pages[index] = page[...]
            if let last = page.last { cursors[index] = last.sequence }
            if page.count < pageSize { exhausted[index] = true }
            if let beyond = page.firstIndex(where: { $0.sequence > head }) {
                pages[index] = page[..<beyond]
                exhausted[index] = true
            }
        }
        var earliest: ChangeEvent?
        for page in pages {
            if let head = page.first, head.sequence < earliest?.sequence ?? .max { earliest = head }
        }
        guard let earliest else { return nil }
        var matched: [Int] = []
        for index in pages.indices where pages[index].first?.sequence == earliest.sequence {
            pages[index] = pages[index].dropFirst()
            matched.append(index)
        }
        return (earliest, matched)
    }
}
