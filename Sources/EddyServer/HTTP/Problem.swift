import EddyCore
import HTTPTypes
import Hummingbird

/// An RFC 9457 problem: every error Eddy answers becomes one of these, served as
/// `application/problem+json`.
public struct Problem: Error, Sendable {
    public var status: HTTPResponse.Status
    /// A short, stable slug naming the kind of problem; the `type` URI is built from it.
    public var kind: String
    public var detail: String
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ kind: String, _ detail: String, headers: HTTPFields = [:]) {
        self.status = status
        self.kind = kind
        self.detail = detail
        self.headers = headers
    }

    public var typeURI: String { "urn:eddy:problem:\(kind)" }

    public var jsonText: String {
        "{\"type\":\(JSONValue.quoted(typeURI)),\"title\":\(JSONValue.quoted(status.reasonPhrase)),"
            + "\"status\":\(status.code),\"detail\":\(JSONValue.quoted(detail))}"
    }

    /// The problem as a whole HTTP/1.1 response that closes the connection, for the handlers
    /// that answer below Hummingbird (before a request exists).
    func closingHTTP1Response(extraHeaders: [String] = []) -> ByteBuffer {
        let body = jsonText
        var head = "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\nContent-Type: application/problem+json\r\n"
        head += "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n"
        for header in extraHeaders { head += header + "\r\n" }
        return ByteBuffer(string: head + "\r\n" + body)
    }

    public func response(forHEAD: Bool = false) -> Response {
        var headers = self.headers
        headers[.contentType] = "application/problem+json"
        let body = ByteBuffer(string: jsonText)
        headers[.contentLength] = String(body.readableBytes)
        return Response(status: status, headers: headers, body: forHEAD ? .init() : .init(byteBuffer: body))
    }
}

extension Problem {
    static func notFound(_ what: String) -> Problem {
        Problem(.notFound, "not-found", "\(what) does not exist")
    }

    static func methodNotAllowed(_ method: HTTPRequest.Method, allowed: [HTTPRequest.Method], target: String) -> Problem {
        Problem(
            .methodNotAllowed, "method-not-allowed",
            "\(method.rawValue) is not allowed on \(target); allowed: \(allowed.map(\.rawValue).joined(separator: ", "))",
            headers: [.allow: allowed.map(\.rawValue).joined(separator: ", ")])
    }

    static func badRequest(_ kind: String, _ detail: String) -> Problem {
        Problem(.badRequest, kind, detail)
    }

    /// Maps errors from lower layers to the problem a client should see.
    static func from(_ error: any Error, maximumBodyBytes: Int) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as PathError:
            return .badRequest("invalid-path", error.description)
        case let error as JSONError:
            return .badRequest("malformed-json", error.description)
        case let error as StoreError:
            switch error {
            case .historyTruncated, .positionFromTheFuture:
                return Problem(.notFound, "history-unavailable", error.description)
            case .closed:
                return Problem(.serviceUnavailable, "shutting-down", error.description)
            case .unavailable:
                return Problem(.serviceUnavailable, "store-unavailable", "the database cannot be reached; try again shortly", headers: [.retryAfter: "1"])
            }
        case let error as any HTTPResponseError where error.status == .contentTooLarge:
            return Problem(.contentTooLarge, "body-too-large", "the request body exceeds \(maximumBodyBytes) bytes")
        case let error as any HTTPResponseError:
            return Problem(error.status, "http-error", "\(error)")
        default:
            return Problem(.internalServerError, "internal", "the server could not complete the request")
        }
    }
}
