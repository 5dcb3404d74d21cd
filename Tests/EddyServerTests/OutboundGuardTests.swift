import Foundation
import Testing

@testable import EddyServer

@Suite struct OutboundGuardTests {
    private func url(_ text: String) -> URL { URL(string: text)! }

    @Test(arguments: [
        "http://127.0.0.1/hook", "http://127.1.2.3:9/", "http://localhost/x", "http://10.1.2.3/", "http://192.168.0.1/",
        "http://172.16.5.4/", "http://169.254.169.254/latest/meta-data", "http://[::1]/", "http://[fe80::1]/", "http://[fd00::1]/",
        "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://100.64.0.1/",
    ])
    func refusesNonPublicTargets(_ target: String) async {
        await #expect(throws: OutboundRefusal.self) { try await OutboundGuard().vet(url(target)) }
    }

    /// IPv6 forms that lead to a non-public IPv4 address: compatible, mapped and translated
    /// spellings, NAT64 (well-known and local-use prefixes), 6to4 and Teredo (server or client).
    @Test(arguments: [
        "http://[::127.0.0.1]/", "http://[::10.0.0.1]/", "http://[::169.254.169.254]/", "http://[::ffff:10.1.2.3]/",
        "http://[::ffff:0:127.0.0.1]/", "http://[::ffff:0:a9fe:a9fe]/", "http://[64:ff9b::127.0.0.1]/",
        "http://[64:ff9b::c0a8:1]/", "http://[64:ff9b:1::5db8:d822]/", "http://[64:ff9b:1:ffff::1]/",
        "http://[2002:7f00:1::1]/", "http://[2002:a9fe:a9fe::]/", "http://[2002:c0a8:101:1::1]/",
        "http://[2001:0:a00:1::1]/", "http://[2001:0:5db8:d822:8000:63bf:80ff:fffe]/",
        "http://[2001:0:5db8:d822:0:0:f5ff:fefe]/",
    ])
    func refusesIPv6CarryingNonPublicIPv4(_ target: String) async {
        await #expect(throws: OutboundRefusal.self) { try await OutboundGuard().vet(url(target)) }
    }

    @Test(arguments: [
        "http://[::ffff:93.184.216.34]/", "http://[64:ff9b::5db8:d822]/", "http://[2002:5db8:d822::1]/",
        "http://[2001:0:5db8:d822:8000:63bf:a247:27dd]/",
    ])
    func permitsIPv6CarryingPublicIPv4(_ target: String) async throws {
        _ = try await OutboundGuard().vet(url(target))
    }

    @Test func readsTheIPv4AddressesAnIPv6AddressCarries() {
        func carried(_ text: String) -> [[UInt8]] { EmbeddedIPv4.addresses(in: IPAddressBytes.parse(text)!) }
        #expect(carried("::7f00:1") == [[127, 0, 0, 1]])
        #expect(carried("::ffff:0:a00:1") == [[10, 0, 0, 1]])
        #expect(carried("64:ff9b::a9fe:a9fe") == [[169, 254, 169, 254]])
        #expect(carried("2002:c0a8:101::") == [[192, 168, 1, 1]])
        #expect(carried("2001:0:5db8:d822:8000:63bf:80ff:fffe") == [[93, 184, 216, 34], [127, 0, 0, 1]])
        #expect(carried("2606:4700::1111").isEmpty)
        #expect(carried("10.0.0.1").isEmpty)
    }

    @Test func allowListAdmitsLoopback() async throws {
        let guarded = OutboundGuard(allowed: [CIDR("127.0.0.0/8")!, CIDR("::1/128")!])
        #expect(try await guarded.vet(url("http://127.0.0.1:8080/hook")).address == "127.0.0.1")
        #expect(try await guarded.vet(url("http://[::1]/")).address == "::1")
        #expect(try await guarded.vet(url("http://[::ffff:127.0.0.1]/")).address == "::ffff:127.0.0.1")
        #expect(try await guarded.vet(url("http://[64:ff9b::7f00:1]/")).address == "64:ff9b::7f00:1")
        await #expect(throws: OutboundRefusal.self) { try await guarded.vet(url("http://10.0.0.1/")) }
    }

    @Test func permitsPublicAddressesAndOnlyHTTP() async throws {
        #expect(try await OutboundGuard().vet(url("https://93.184.216.34/hook")).address == "93.184.216.34")
        await #expect(throws: OutboundRefusal.scheme("ftp")) { try await OutboundGuard().vet(url("ftp://93.184.216.34/")) }
        await #expect(throws: OutboundRefusal.self) { try await OutboundGuard().vet(url("http://no-such-host.invalid/")) }
    }

    @Test func parsesCIDRBlocks() {
        #expect(CIDR("10.0.0.0/8")!.contains([10, 200, 1, 1]))
        #expect(!CIDR("10.0.0.0/8")!.contains([11, 0, 0, 1]))
        #expect(CIDR("172.16.0.0/12")!.contains([172, 31, 255, 255]))
        #expect(!CIDR("172.16.0.0/12")!.contains([172, 32, 0, 0]))
        #expect(CIDR("10.0.0.0/33") == nil)
        #expect(CIDR("nonsense") == nil)
        #expect(CIDR("fc00::/7")!.description == "fc00::/7")
    }
}
