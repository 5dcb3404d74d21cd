/// `Link` header values (RFC 8288) reduced to what LiveResource needs: each relation type and
/// its target. A link may carry several rels (`rel="changes changes-wait"`), quoted or not, and
/// one header value may hold several comma-separated links.
enum LinkHeader {
    static func relations(_ values: [String]) -> [String: String] {
        var relations: [String: String] = [:]
        for value in values {
            var rest = Substring(value)
            while let open = rest.firstIndex(of: "<") {
                guard let close = rest[open...].firstIndex(of: ">") else { break }
                let target = String(rest[rest.index(after: open)..<close])
                // The parameters end where the next link starts; a '<' never appears inside them.
                let parametersEnd = rest[close...].dropFirst().firstIndex(of: "<") ?? rest.endIndex
                for rel in rels(in: rest[rest.index(after: close)..<parametersEnd]) where relations[rel] == nil {
                    relations[rel] = target
                }
                rest = rest[parametersEnd...]
            }
        }
        return relations
    }

    private static func rels(in parameters: Substring) -> [String] {
        for parameter in parameters.split(separator: ";") {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingSpaces.lowercased() == "rel" else { continue }
            var value = pair[1].trimmingSpaces
            if value.hasSuffix(",") { value = value.dropLast().trimmingSpaces }
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = value.dropFirst().dropLast() }
            return value.split(separator: " ").map(String.init)
        }
        return []
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return self[endIndex...] }
        return self[first...last]
    }
}
