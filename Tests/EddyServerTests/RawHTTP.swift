import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Sends bytes exactly as given over a plain TCP socket and reads the reply until the server
/// closes. For requests an HTTP client library would normalise (odd paths, broken framing).
enum RawHTTP {
    struct Reply {
        let status: Int
        let head: String
        let body: String
    }

    static func send(port: Int, _ request: String, timeoutSeconds: Int = 10) throws -> Reply {
        let connection = try RawConnection(port: port, timeoutSeconds: timeoutSeconds)
        try connection.send(request)
        return parse(connection.readUntilClosed())
    }

    static func parse(_ received: [UInt8]) -> Reply {
        let text = String(decoding: received, as: UTF8.self)
        let parts = text.components(separatedBy: "\r\n\r\n")
        let head = parts.first ?? ""
        let statusLine = head.split(separator: "\r\n").first ?? ""
        let status = statusLine.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return Reply(status: status, head: head, body: parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    enum RawHTTPError: Error {
        case socket(Int32), bind(Int32), connect(Int32), write(Int32)
    }
}

/// One TCP connection to a loopback port, optionally from a chosen 127.x source address.
final class RawConnection: @unchecked Sendable {  // a file descriptor used from one thread at a time
    let fd: Int32

    init(port: Int, source: String? = nil, timeoutSeconds: Int = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawHTTP.RawHTTPError.socket(errno) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else {
                close(fd)
                throw RawHTTP.RawHTTPError.bind(errno)
            }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw RawHTTP.RawHTTPError.connect(errno)
        }
    }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let written = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw RawHTTP.RawHTTPError.write(errno) }
            sent += written
        }
    }

    /// Reads until the peer closes (or the receive timeout passes).
    func readUntilClosed() -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            received.append(contentsOf: buffer[0..<count])
        }
        return received
    }

    /// Whether the peer has closed: a read returns end-of-file (0) rather than timing out.
    func peerClosed() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count == 0 { return true }
            if count < 0 { return errno == ECONNRESET }
        }
    }

    deinit {
        close(fd)
    }
}

extension TestServer {
    func raw(_ method: String, _ target: String, body: String? = nil, headers: [String] = []) async throws -> RawHTTP.Reply {
        var request = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        for header in headers { request += header + "\r\n" }
        if let body { request += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        request += "\r\n" + (body ?? "")
        let port = self.port
        let text = request
        return try await blocking { try RawHTTP.send(port: port, text) }
    }
}

/// Runs blocking socket work on a thread of its own: on Swift's cooperative pool (two threads
/// on this machine) a blocked `recv` would stall every other test.
func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try work() })
        }
    }
}
