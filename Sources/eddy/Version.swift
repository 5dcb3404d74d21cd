/// Eddy's version, shown by `eddy --version`: the one place it is written.
enum EddyVersion {
    static let current = "0.1.0"
}
