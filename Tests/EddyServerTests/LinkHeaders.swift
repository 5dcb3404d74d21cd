import AsyncHTTPClient
import NIOHTTP1

/// Reads `Link` headers the way a LiveResource client does: rel → target, for every rel of
/// every link.
enum LinkHeaders {
    static func parse(_ headers: HTTPHeaders) -> [String: String] {
        var links: [String: String] = [:]
        for value in headers["Link"] {
            for link in splitLinks(value) {
                guard let open = link.firstIndex(of: "<"), let close = link.firstIndex(of: ">") else { continue }
                let target = String(link[link.index(after: open)..<close])
                for parameter in link[close...].split(separator: ";") {
                    let trimmed = parameter.trimmingCharacters(in: .whitespaces)
                    guard trimmed.hasPrefix("rel=") else { continue }
                    let rels = trimmed.dropFirst(4).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                    for rel in rels.split(separator: " ") { links[String(rel)] = target }
                }
            }
        }
        return links
    }

    /// Splits a header value holding several comma-separated links (commas inside <> are kept).
    private static func splitLinks(_ value: String) -> [Substring] {
        var parts: [Substring] = []
        var depth = 0
        var start = value.startIndex
        for index in value.indices {
            switch value[index] {
            case "<": depth += 1
            case ">": depth -= 1
            case "," where depth == 0:
                parts.append(value[start..<index])
                start = value.index(after: index)
            default: break
            }
        }
        parts.append(value[start...])
        return parts
    }
}

import Foundation

extension TestResponse {
    var links: [String: String] { LinkHeaders.parse(headers) }
}
