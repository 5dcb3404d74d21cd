import Foundation

/// Which store the suite's servers run on. `.ci/run` runs the suite twice: once on the embedded
/// store, once with `EDDY_TEST_STORE=postgres`, when every server gets its own schema in the
/// database at `EDDY_TEST_POSTGRES` — named after its data folder, so a server restarted on
/// the same folder finds its data again.
public enum TestStore {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// The database the cluster tests (and the PostgreSQL pass) use, when one is available.
    public static var postgresBase: String? { environment["EDDY_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 } }

    public static var usesPostgres: Bool { environment["EDDY_TEST_STORE"] == "postgres" }

    /// The `--store` URL for a server whose data folder is `directory`, or nil for the embedded store.
    public static func url(for directory: URL) -> String? {
        guard usesPostgres, let base = postgresBase else { return nil }
        return url(base: base, schema: schemaName(directory.lastPathComponent))
    }

    public static func url(base: String, schema: String) -> String {
        base + (base.contains("?") ? "&" : "?") + "schema=" + schema
    }

    public static func schemaName(_ seed: String) -> String {
        let cleaned = seed.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" }
        return String(("t_" + String(cleaned)).prefix(63))
    }
}
