import EddyCore
import PostgresNIO

/// Failures that say the database is out of reach rather than that a query is wrong. They
/// become `StoreError.unavailable`, which clients get as 503 with Retry-After, since the request
/// may succeed once the database is back. (A write whose connection dropped during COMMIT may
/// still have committed; its event then reaches subscribers all the same.)
enum StoreAvailability {
    static func guarded<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw classify(error)
        }
    }

    static func classify(_ error: any Error) -> any Error {
        switch error {
        case let failure as PSQLError:
            if isUnreachable(failure) {
                return StoreError.unavailable(reason: failure.underlying.map { "\(failure.code): \($0)" } ?? "\(failure.code)")
            }
            // PSQLError describes itself generically; the server's own message says what is wrong.
            if let message = failure.serverInfo?[.message] {
                return PostgresStoreError("PostgreSQL refused: \(message) (SQLSTATE \(failure.serverInfo?[.sqlState] ?? "?"))")
            }
            return failure
        case let failure as PostgresTransactionError:
            for inner in [failure.beginError, failure.closureError, failure.commitError].compactMap({ $0 }) {
                if case StoreError.unavailable = classify(inner) { return classify(inner) }
            }
            return failure
        default:
            // The pool reports a database it cannot connect to with its own error type.
            if String(reflecting: type(of: error)).contains("ConnectionPoolError") {
                return StoreError.unavailable(reason: "no database connection: \(error)")
            }
            return error
        }
    }

    private static func isUnreachable(_ failure: PSQLError) -> Bool {
        switch failure.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed, .sslUnsupported:
            return true
        case .server:
            // Class 08 is "connection exception"; 57P01–57P03 are the server shutting down or starting.
            let state = failure.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(state)
        default:
            return false
        }
    }
}
