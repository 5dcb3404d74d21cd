/// Legacy Keccak-256, as used by Ethereum and by Concrnt's CIP-1 signatures.
///
/// This is the original Keccak submission with multi-rate padding `0x01 … 0x80`,
/// **not** FIPS 202 SHA3-256 (which pads with `0x06 … 0x80` and therefore gives
/// different digests). Rate 1088 bits (136 bytes), capacity 512 bits, 24 rounds
/// of Keccak-f[1600].
public enum Keccak256 {
    /// Digest length in bytes.
    public static let digestByteCount = 32
    /// Sponge rate in bytes (block size).
    public static let rateByteCount = 136

    /// Returns the 32-byte Keccak-256 digest of `bytes`.
    public static func hash(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var state = [UInt64](repeating: 0, count: 25)
        let laneCount = rateByteCount / 8
        var block = [UInt8](repeating: 0, count: rateByteCount)
        var filled = 0

        for byte in bytes {
            block[filled] = byte
            filled += 1
            if filled == rateByteCount {
                absorb(block, laneCount: laneCount, into: &state)
                filled = 0
            }
        }

        // Final (possibly empty) block with Keccak padding: 0x01 ... 0x80.
        for index in filled..<rateByteCount { block[index] = 0 }
        block[filled] ^= 0x01
        block[rateByteCount - 1] ^= 0x80
        absorb(block, laneCount: laneCount, into: &state)

        var digest = [UInt8]()
        digest.reserveCapacity(digestByteCount)
        for lane in state.prefix(digestByteCount / 8) {
            for shift in stride(from: 0, to: 64, by: 8) {
                digest.append(UInt8(truncatingIfNeeded: lane >> UInt64(shift)))
            }
        }
        return digest
    }

    private static func absorb(_ block: [UInt8], laneCount: Int, into state: inout [UInt64]) {
        for lane in 0..<laneCount {
            var value: UInt64 = 0
            for byte in 0..<8 {
                value |= UInt64(block[lane * 8 + byte]) << UInt64(byte * 8)
            }
            state[lane] ^= value
        }
        permute(&state)
    }

    private static let roundConstants: [UInt64] = [
        0x0000_0000_0000_0001, 0x0000_0000_0000_8082, 0x8000_0000_0000_808A,
        0x8000_0000_8000_8000, 0x0000_0000_0000_808B, 0x0000_0000_8000_0001,
        0x8000_0000_8000_8081, 0x8000_0000_0000_8009, 0x0000_0000_0000_008A,
        0x0000_0000_0000_0088, 0x0000_0000_8000_8009, 0x0000_0000_8000_000A,
        0x0000_0000_8000_808B, 0x8000_0000_0000_008B, 0x8000_0000_0000_8089,
        0x8000_0000_0000_8003, 0x8000_0000_0000_8002, 0x8000_0000_0000_0080,
        0x0000_0000_0000_800A, 0x8000_0000_8000_000A, 0x8000_0000_8000_8081,
        0x8000_0000_0000_8080, 0x0000_0000_8000_0001, 0x8000_0000_8000_8008,
    ]

    /// Rho rotation offsets, in the order lanes are visited by the pi step.
    private static let rotations: [UInt64] = [
        1, 3, 6, 10, 15, 21, 28, 36, 45, 55, 2, 14,
        27, 41, 56, 8, 25, 43, 62, 18, 39, 61, 20, 44,
    ]

    /// Pi step lane order.
    private static let piLanes: [Int] = [
        10, 7, 11, 17, 18, 3, 5, 16, 8, 21, 24, 4,
        15, 23, 19, 13, 12, 2, 20, 14, 22, 9, 6, 1,
    ]

    @inline(__always)
    private static func rotateLeft(_ value: UInt64, _ count: UInt64) -> UInt64 {
        (value << count) | (value >> (64 - count))
    }

    /// Keccak-f[1600].
    private static func permute(_ state: inout [UInt64]) {
        state.withUnsafeMutableBufferPointer { st in
            var c = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
            for round in 0..<24 {
                // Theta
                c.0 = st[0] ^ st[5] ^ st[10] ^ st[15] ^ st[20]
                c.1 = st[1] ^ st[6] ^ st[11] ^ st[16] ^ st[21]
                c.2 = st[2] ^ st[7] ^ st[12] ^ st[17] ^ st[22]
                c.3 = st[3] ^ st[8] ^ st[13] ^ st[18] ^ st[23]
                c.4 = st[4] ^ st[9] ^ st[14] ^ st[19] ^ st[24]
                let d0 = c.4 ^ rotateLeft(c.1, 1)
                let d1 = c.0 ^ rotateLeft(c.2, 1)
                let d2 = c.1 ^ rotateLeft(c.3, 1)
                let d3 = c.2 ^ rotateLeft(c.4, 1)
                let d4 = c.3 ^ rotateLeft(c.0, 1)
                for row in stride(from: 0, to: 25, by: 5) {
                    st[row] ^= d0
                    st[row + 1] ^= d1
                    st[row + 2] ^= d2
                    st[row + 3] ^= d3
                    st[row + 4] ^= d4
                }

                // Rho and pi
                var carried = st[1]
                for index in 0..<24 {
                    let lane = piLanes[index]
                    let next = st[lane]
                    st[lane] = rotateLeft(carried, rotations[index])
                    carried = next
                }

                // Chi
                for row in stride(from: 0, to: 25, by: 5) {
                    let a0 = st[row], a1 = st[row + 1], a2 = st[row + 2]
                    let a3 = st[row + 3], a4 = st[row + 4]
                    st[row] = a0 ^ (~a1 & a2)
                    st[row + 1] = a1 ^ (~a2 & a3)
                    st[row + 2] = a2 ^ (~a3 & a4)
                    st[row + 3] = a3 ^ (~a4 & a0)
                    st[row + 4] = a4 ^ (~a0 & a1)
                }

                // Iota
                st[0] ^= roundConstants[round]
            }
        }
    }
}
