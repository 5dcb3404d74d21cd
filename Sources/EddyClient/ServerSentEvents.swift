/// Splits a `text/event-stream` body into events (the WHATWG parsing rules that matter here:
/// `field: value` lines, comments, multi-line data, blank-line dispatch, CRLF or LF).
struct ServerSentEvents {
    struct Event: Equatable {
        var id: String?
        var name: String?
        var data: String
    }

    private var pending: [UInt8] = []

    /// The events completed by `bytes`, in order.
    mutating func feed(_ bytes: some Sequence<UInt8>) -> [Event] {
        pending.append(contentsOf: bytes)
        var events: [Event] = []
        var current = Event(id: nil, name: nil, data: "")
        var dataLines: [String] = []
        var consumed = 0
        var lineStart = 0
        var index = 0
        while index < pending.count {
            guard pending[index] == UInt8(ascii: "\n") else {
                index += 1
                continue
            }
            var lineEnd = index
            if lineEnd > lineStart, pending[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
            let line = String(decoding: pending[lineStart..<lineEnd], as: UTF8.self)
            index += 1
            lineStart = index
            if line.isEmpty {
                if !dataLines.isEmpty || current.name != nil {
                    current.data = dataLines.joined(separator: "\n")
                    events.append(current)
                }
                current = Event(id: nil, name: nil, data: "")
                dataLines = []
                consumed = index
                continue
            }
            if line.hasPrefix(":") { continue }
            let field = line.prefix { $0 != ":" }
            var value = line.dropFirst(field.count)
            if value.hasPrefix(":") { value = value.dropFirst() }
            if value.hasPrefix(" ") { value = value.dropFirst() }
            switch field {
            case "id": current.id = String(value)
            case "event": current.name = String(value)
            case "data": dataLines.append(String(value))
            default: break
            }
        }
        // An event is only complete at its blank line; keep its lines for the next chunk.
        pending.removeFirst(consumed)
        return events
    }
}
