import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Decides whether Eddy may send a request (a webhook delivery) to a URL. Targets on
/// loopback, private, link-local and other non-public addresses are refused — judged on the
/// addresses the host name resolves to, not on its spelling — unless an allow-list admits them.
public struct OutboundGuard: Sendable {
    /// Addresses no webhook may reach unless allowed. IPv6 ranges that carry an IPv4 address
    /// (NAT64, 6to4, Teredo, mapped) are judged by that address instead (`EmbeddedIPv4`), except
    /// NAT64's local-use prefix, whose embedding its operator chooses.
    static let forbidden: [CIDR] = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
        "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4",
        "240.0.0.0/4", "255.255.255.255/32",
        "::/128", "::1/128", "64:ff9b:1::/48", "100::/64", "2001:2::/48", "2001:db8::/32", "3fff::/20", "fc00::/7",
        "fe80::/10", "ff00::/8",
    ].map { CIDR($0)! }

    public let allowed: [CIDR]

    public init(allowed: [CIDR] = []) {
        self.allowed = allowed
    }

    /// A vetted target: the URL and the address it was judged on.
    public struct Target: Sendable {
        public let url: URL
        public let address: String
    }

    /// Checks `url` and returns the address to connect to; throws `OutboundRefusal` otherwise.
    public func vet(_ url: URL) async throws(OutboundRefusal) -> Target {
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw .scheme(url.scheme ?? "")
        }
        guard let host = url.host, !host.isEmpty else { throw .unresolvable("the URL has no host") }
        let addresses = try await Self.resolve(host)
        guard !addresses.isEmpty else { throw .unresolvable("\(host) resolves to no address") }
        for address in addresses where !isPermitted(address) {
            throw .forbiddenAddress(host: host, address: IPAddressBytes.format(address))
        }
        return Target(url: url, address: IPAddressBytes.format(addresses[0]))
    }

    /// An allow-listed block admits an address outright; otherwise it must lie outside every
    /// forbidden block, and so must each IPv4 address it carries.
    public func isPermitted(_ address: [UInt8]) -> Bool {
        if allowed.contains(where: { $0.contains(address) }) { return true }
        if Self.forbidden.contains(where: { $0.contains(address) }) { return false }
        return EmbeddedIPv4.addresses(in: address).allSatisfy(isPermitted)
    }

    /// Resolves off the event loops: getaddrinfo blocks.
    static func resolve(_ host: String) async throws(OutboundRefusal) -> [[UInt8]] {
        let trimmed = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if let literal = IPAddressBytes.parse(trimmed) { return [literal] }
        let result: Result<[[UInt8]], OutboundRefusal> = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: Self.getaddrinfo(trimmed))
            }
        }
        return try result.get()
    }

    private static func getaddrinfo(_ host: String) -> Result<[[UInt8]], OutboundRefusal> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = Glibc.getaddrinfo(host, nil, &hints, &list)
        guard status == 0 else { return .failure(.unresolvable("\(host) does not resolve")) }
        defer { freeaddrinfo(list) }
        var addresses: [[UInt8]] = []
        var cursor = list
        while let entry = cursor {
            if let sockaddr = entry.pointee.ai_addr {
                if entry.pointee.ai_family == AF_INET {
                    sockaddr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                        var address = v4.pointee.sin_addr
                        addresses.append(withUnsafeBytes(of: &address) { Array($0) })
                    }
                } else if entry.pointee.ai_family == AF_INET6 {
                    sockaddr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                        var address = v6.pointee.sin6_addr
                        addresses.append(withUnsafeBytes(of: &address) { Array($0) })
                    }
                }
            }
            cursor = entry.pointee.ai_next
        }
        return .success(addresses)
    }
}

public enum OutboundRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    case scheme(String)
    case unresolvable(String)
    case forbiddenAddress(host: String, address: String)

    public var description: String {
        switch self {
        case .scheme(let scheme): "only http and https targets are allowed, not '\(scheme)'"
        case .unresolvable(let why): why
        case .forbiddenAddress(let host, let address):
            "\(host) resolves to \(address), a loopback, private or link-local address; allow it with --allow-outbound"
        }
    }
}
