import EddyCore
import HTTPTypes
import Hummingbird

extension HTTPField.Name {
    static let lastEventID = HTTPField.Name("Last-Event-ID")!
    static let link = HTTPField.Name("Link")!
}

extension Request {
    /// The media type of the body, lower-cased, without parameters.
    var mediaType: String? {
        guard let value = headers[.contentType] else { return nil }
        return value.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    }

    /// Reads the body as JSON, enforcing the size limit and a JSON media type.
    mutating func jsonBody(maximumBytes: Int, accepting mediaTypes: Set<String>) async throws -> JSONValue {
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
        let buffer = try await collectBody(upTo: maximumBytes)
        let value = try JSONValue(parsing: buffer.readableBytesView)
        return value
    }
}

extension Response {
    static func json(_ status: HTTPResponse.Status, _ text: String, headers: HTTPFields = [:], head: Bool = false) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        let body = ByteBuffer(string: text)
        headers[.contentLength] = String(body.readableBytes)
        return Response(status: status, headers: headers, body: head ? .init() : .init(byteBuffer: body))
    }
}
