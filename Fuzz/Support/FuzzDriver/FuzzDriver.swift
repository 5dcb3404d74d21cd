import CLibFuzzer

#if canImport(Glibc)
import Glibc
#endif

/// Hands the process to libFuzzer with `fuzzOneInput` as the target. Which `main` a target
/// gets depends on the link: SwiftPM's (this module's top-level code, which calls this) or
/// libFuzzer's own, which calls the `LLVMFuzzerTestOneInput` each target also exports — the
/// same function either way.
public func runFuzzer(_ fuzzOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput))
}
