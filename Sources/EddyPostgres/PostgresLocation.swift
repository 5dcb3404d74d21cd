import Foundation
import NIOSSL
import PostgresNIO

/// Where the cluster store lives, read from a `postgres://user:password@host:port/database`
/// URL. Query items: `schema` (default `eddy`: every table lives in it, so several Eddy
/// trees can share one database) and `sslmode` (`disable`, the default, `prefer` or `require`).
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var schema: String
    public var sslMode: SSLMode

    public enum SSLMode: String, Sendable { case disable, prefer, require }

    public struct InvalidURL: Error, CustomStringConvertible {
        public let description: String
    }

    public init(url text: String) throws {
        guard let components = URLComponents(string: text), let scheme = components.scheme,
            scheme == "postgres" || scheme == "postgresql"
        else { throw InvalidURL(description: "expected postgres://user[:password]@host[:port]/database, got \(Self.redacted(text))") }
        guard let host = components.host, !host.isEmpty else { throw InvalidURL(description: "the store URL names no host") }
        guard let user = components.user, !user.isEmpty else { throw InvalidURL(description: "the store URL names no user") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        self.host = host
        port = components.port ?? 5432
        username = user.removingPercentEncoding ?? user
        password = components.password.map { $0.removingPercentEncoding ?? $0 }
        self.database = database.isEmpty ? username : database
        let items = components.queryItems ?? []
        schema = items.first(where: { $0.name == "schema" })?.value ?? "eddy"
        guard schema.range(of: "^[a-z_][a-z0-9_]{0,62}$", options: .regularExpression) != nil else {
            throw InvalidURL(description: "schema must be a lower-case SQL identifier (letters, digits, _), got \(schema)")
        }
        let mode = items.first(where: { $0.name == "sslmode" })?.value ?? "disable"
        guard let sslMode = SSLMode(rawValue: mode) else {
            throw InvalidURL(description: "sslmode must be disable, prefer or require, got \(mode)")
        }
        self.sslMode = sslMode
    }

    /// The URL without its password, for logs and errors.
    public var description: String {
        "postgres://\(username)@\(host):\(port)/\(database)?schema=\(schema)"
    }

    static func redacted(_ text: String) -> String {
        guard var components = URLComponents(string: text) else { return "(unparseable URL)" }
        if components.password != nil { components.password = "***" }
        return components.string ?? "(unparseable URL)"
    }

    var clientConfiguration: PostgresClient.Configuration {
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: clientTLS)
        // Unqualified table names resolve in Eddy's own schema on every pooled connection.
        configuration.options.additionalStartupParameters = [("search_path", schema), ("application_name", "eddy")]
        configuration.options.maximumConnections = 16
        return configuration
    }

    func connectionConfiguration(applicationName: String) throws -> PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: try connectionTLS())
        configuration.options.additionalStartupParameters = [("search_path", schema), ("application_name", applicationName)]
        return configuration
    }

    private var clientTLS: PostgresClient.Configuration.TLS {
        switch sslMode {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
    }

    private func connectionTLS() throws -> PostgresConnection.Configuration.TLS {
        switch sslMode {
        case .disable: return .disable
        case .prefer: return .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: return .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
    }
}
