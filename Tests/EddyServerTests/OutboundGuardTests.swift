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

    @Test func allowListAdmitsLoopback() async throws {
        let guarded = OutboundGuard(allowed: [CIDR("127.0.0.0/8")!, CIDR("::1/128")!])
        #expect(try await guarded.vet(url("http://127.0.0.1:8080/hook")).address == "127.0.0.1")
        #expect(try await guarded.vet(url("http://[::1]/")).address == "::1")
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
