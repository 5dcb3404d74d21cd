// Concrnt signature throughput on one thread: signs, public-key recoveries and whole
// `SignedDocument.verify()` calls per second of wall time and per second of the thread's CPU
// time, which other processes on a shared machine disturb far less. Prints, never asserts
// (BENCHMARKS.md):
//   swift build -c release -Xswiftc -enable-testing --product concrnt-crypto-bench
//   .build/release/concrnt-crypto-bench
// `-enable-testing` lets it reach the internal recovery call that verify() wraps.
@testable import ConcrntCrypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Distinct signers so no cache or table can favour a single key.
let signerCount = 64
/// How long each measurement runs; long enough that clock and loop overhead vanish.
let measuringTime = Duration.seconds(3)

/// Reproducible keys (not secure; a benchmark needs no secrecy).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

var generator = SplitMix64(state: 22)
let keys = (0..<signerCount).map { _ in SigningKey(random: &generator) }
let documents = keys.enumerated().map { index, key in
    #"{"author":"\#(key.ccid)","schema":"https://schema.concrnt.net/note.json","key":"posts/\#(index)","value":{"body":"hello"},"createdAt":"2025-11-23T12:34:56.789Z"}"#
}
let envelopes = zip(documents, keys).map { SignedDocument.signed(document: $0, with: $1) }
let recoveryInputs = envelopes.map { envelope in
    let signature = Hex.decode(envelope.signature!)!
    return (compact: Array(signature[0..<64]), recoveryID: Int32(signature[64]), digest: Keccak256.hash(envelope.document.utf8))
}

/// Operations per second of wall time and per second of this thread's CPU time.
struct Rate {
    var wall: Double
    var cpu: Double
}

func threadCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// Runs `operation` round-robin over the inputs for `measuringTime`.
func rate(_ operation: (Int) -> Bool) -> Rate {
    let clock = ContinuousClock()
    let start = clock.now
    let cpuStart = threadCPUSeconds()
    var count = 0
    while clock.now - start < measuringTime {
        for index in 0..<signerCount {
            precondition(operation(index), "operation \(index) failed")
        }
        count += signerCount
    }
    let cpu = threadCPUSeconds() - cpuStart
    let elapsed = clock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return Rate(wall: Double(count) / seconds, cpu: Double(count) / cpu)
}

let signs = rate { index in keys[index].signature(for: documents[index].utf8).count == 65 }
let recoveries = rate { index in
    let input = recoveryInputs[index]
    let result = Secp256k1Context.shared.recoverCompressedPublicKey(
        compact: input.compact, recoveryID: input.recoveryID, digest: input.digest
    )
    return result == .recovered(keys[index].compressedPublicKey)
}
let verifications = rate { index in (try? envelopes[index].verify()) != nil }

func show(_ name: String, _ rate: Rate) {
    print("\(name): \(Int(rate.wall.rounded())) /s, \(Int(rate.cpu.rounded())) per CPU second")
}
show("signs", signs)
show("recoveries", recoveries)
show("verifications (SignedDocument.verify)", verifications)
