import EddyCore
import HTTPTypes
import Hummingbird

extension HTTPField.Name {
    static let lastEventID = HTTPField.Name("Last-Event-ID")!
    static let link = HTTPField.Name("Link")!
}

extension HTTPFields {
    /// What `self[name]` answers, without its cost for a field sent once: the subscript joins
    /// the values through a generic sequence that runs unspecialised here, about 4,000
    /// instructions for one value, on every write's `Content-Type` and `Content-Length`.
    func combinedValue(of name: HTTPField.Name) -> String? {
        var found: String?
        for field in self where field.name == name {
            guard found == nil else { return self[name] }
            found = field.value
        }
        return found
    }
}

extension Request {
    /// The media type of the body, lower-cased, without parameters.
    var mediaType: String? {
        headers.combinedValue(of: .contentType).flatMap(Self.mediaType(in:))
    }

    /// Byte by byte, without Foundation: every write asks this, and `trimmingCharacters` with
    /// `lowercased` were 2.6 % of a durable write's CPU (issue #7, (d)).
    static func mediaType(in value: String) -> String? {
        let whitespace = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        let utf8 = value.utf8
        var type = utf8[..<(utf8.firstIndex(of: UInt8(ascii: ";")) ?? utf8.endIndex)]
        while let first = type.first, whitespace(first) { type = type.dropFirst() }
        while let last = type.last, whitespace(last) { type = type.dropLast() }
        guard !type.isEmpty else { return nil }
        guard type.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
            return String(Substring(type))
        }
        return String(decoding: type.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 + 32 : $0 }, as: UTF8.self)
    }

    /// Reads the body as JSON, enforcing the size limit and a JSON media type.
    mutating func jsonBody(maximumBytes: Int, accepting mediaTypes: Set<String>) async throws -> JSONValue {
        try JSONValue(parsing: try await jsonBytes(maximumBytes: maximumBytes, accepting: mediaTypes).readableBytesView)
    }

    /// The body's bytes, after the same checks, for a caller that keeps them as they were sent.
    mutating func jsonBytes(maximumBytes: Int, accepting mediaTypes: Set<String>) async throws -> ByteBuffer {
        guard let type = mediaType else {
            throw Problem(
                .unsupportedMediaType, "unsupported-media-type",
                "a Content-Type is required; send one of \(mediaTypes.sorted().joined(separator: ", "))")
        }
        guard mediaTypes.contains(type) else {
            throw Problem(
                .unsupportedMediaType, "unsupported-media-type",
                "Content-Type \(type) is not accepted here; send one of \(mediaTypes.sorted().joined(separator: ", "))")
        }
        return try await collectBody(upTo: maximumBytes)
    }
}

extension Response {
    static func json(_ status: HTTPResponse.Status, _ text: String, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        let body = ByteBuffer(string: text)
        headers[.contentLength] = String(body.readableBytes)
        return Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }
}
