import Foundation

/// What `eddy serve` prints once it listens: the addresses a user wants next. The first line
/// stays `Eddy listening on <url>`: scripts and tests read it.
struct StartupBanner {
    let scheme: String
    let host: String

    func lines(port: Int) -> [String] {
        let base = "\(scheme)://\(Self.authority(host, port))"
        return [
            "Eddy listening on \(base)",
            "  API           \(base)/  (PUT/GET/PATCH/DELETE any path)",
            "  live page     \(base)/.eddy/app/",
            "  OpenAPI       \(base)/.eddy/openapi.json",
            "  well-known    \(base)/.well-known/solid  \(base)/.well-known/concrnt",
        ]
    }

    static func metricsLine(host: String, port: Int) -> String {
        "  metrics       http://\(authority(host, port))/metrics"
    }

    static func authority(_ host: String, _ port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Written straight to the file descriptor so a parent process reading a pipe sees it at once.
    static func write(_ lines: [String]) {
        FileHandle.standardOutput.write(Data(lines.map { $0 + "\n" }.joined().utf8))
    }
}
