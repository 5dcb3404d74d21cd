#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address block, such as `127.0.0.0/8` or `fc00::/7`.
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    public let address: [UInt8]
    public let prefixLength: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let address = IPAddressBytes.parse(String(parts[0])) else { return nil }
        let maximum = address.count * 8
        let length = parts.count == 2 ? Int(parts[1]) : maximum
        guard let length, (0...maximum).contains(length) else { return nil }
        self.address = address
        self.prefixLength = length
    }

    /// Whether `candidate`, of the same family, lies in the block. An IPv6 address carrying an
    /// IPv4 one is not in an IPv4 block: `OutboundGuard` judges what it carries separately.
    public func contains(_ candidate: [UInt8]) -> Bool {
        guard candidate.count == address.count else { return false }
        var remaining = prefixLength
        for index in 0..<address.count where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if candidate[index] & mask != address[index] & mask { return false }
            remaining -= bits
        }
        return true
    }

    public var description: String { "\(IPAddressBytes.format(address))/\(prefixLength)" }
}

enum IPAddressBytes {
    static func parse(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    static func format(_ bytes: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        _ = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The IPv4 addresses an IPv6 address leads to through a transition mechanism. Connecting to
/// `::ffff:127.0.0.1`, `64:ff9b::7f00:1` (NAT64) or `2002:7f00:1::` (6to4) can reach 127.0.0.1
/// as surely as the IPv4 address itself, so each is judged by what it carries.
enum EmbeddedIPv4 {
    static func addresses(in address: [UInt8]) -> [[UInt8]] {
        guard address.count == 16 else { return [] }
        let last32 = Array(address[12..<16])
        func zero(_ range: Range<Int>) -> Bool { address[range].allSatisfy { $0 == 0 } }
        func starts(with prefix: [UInt8]) -> Bool { address.starts(with: prefix) }
        // ::a.b.c.d (IPv4-compatible, ::/96) and ::ffff:a.b.c.d (IPv4-mapped, ::ffff:0:0/96).
        if zero(0..<10), (address[10] == 0 && address[11] == 0) || (address[10] == 0xFF && address[11] == 0xFF) {
            return [last32]
        }
        // ::ffff:0:a.b.c.d (IPv4-translated, SIIT, ::ffff:0:0:0/96).
        if zero(0..<8), address[8] == 0xFF, address[9] == 0xFF, zero(10..<12) { return [last32] }
        // 64:ff9b::a.b.c.d (NAT64 well-known prefix, 64:ff9b::/96).
        if starts(with: [0x00, 0x64, 0xFF, 0x9B]), zero(4..<12) { return [last32] }
        // 2002:AABB:CCDD::/48 (6to4, 2002::/16): the relay sends to a.b.c.d.
        if starts(with: [0x20, 0x02]) { return [Array(address[2..<6])] }
        // 2001:0:SSSS:SSSS:flags:port:CCCC:CCCC (Teredo, 2001::/32): the server, and the client's
        // address stored inverted.
        if starts(with: [0x20, 0x01, 0x00, 0x00]) { return [Array(address[4..<8]), last32.map { ~$0 }] }
        return []
    }
}
