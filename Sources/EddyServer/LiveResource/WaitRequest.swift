import HTTPTypes

/// How long a long-poll may be held: `Wait: N`, or the later dialect `Prefer: wait=N`,
/// capped at the server's maximum.
enum WaitRequest {
    static let preferName = HTTPField.Name("Prefer")!
    static let waitName = HTTPField.Name("Wait")!

    /// Seconds to wait, nil when the request does not ask to wait. Throws 400 on a malformed value.
    static func seconds(_ headers: HTTPFields, maximum: Double) throws -> Double? {
        if let raw = headers[waitName] {
            return try parse(raw, from: "Wait", maximum: maximum)
        }
        for prefer in headers[values: preferName] {
            for preference in prefer.split(separator: ",") {
                let trimmed = preference.trimmingCharacters(in: .whitespaces)
                if trimmed.lowercased().hasPrefix("wait=") {
                    return try parse(String(trimmed.dropFirst(5)), from: "Prefer: wait", maximum: maximum)
                }
            }
        }
        return nil
    }

    private static func parse(_ raw: String, from header: String, maximum: Double) throws -> Double {
        let trimmed = raw.trimmingCharacters(in: .whitespaces)
        guard let value = Double(trimmed), value.isFinite, value >= 0, trimmed.allSatisfy({ $0.isNumber || $0 == "." }) else {
            throw Problem.badRequest("invalid-wait", "\(header) must be a number of seconds, got '\(raw)'")
        }
        return min(value, maximum)
    }
}
