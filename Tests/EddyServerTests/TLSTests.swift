import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import SwiftASN1
import Testing
import X509
import EddyCore
import HummingbirdWSClient
import Logging
import Synchronization

@Suite struct TLSTests {
    /// A self-signed certificate for 127.0.0.1, made fresh for the test.
    static func makeCertificate() throws -> (certificate: URL, key: URL) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("127.0.0.1") }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(3600),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                SubjectAlternativeNames([.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])), .dnsName("localhost")])
            },
            issuerPrivateKey: .init(key))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eddy-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let certificateFile = directory.appendingPathComponent("cert.pem")
        let keyFile = directory.appendingPathComponent("key.pem")
        try certificate.serializeAsPEM().pemString.write(to: certificateFile, atomically: true, encoding: .utf8)
        try key.pemRepresentation.write(to: keyFile, atomically: true, encoding: .utf8)
        return (certificateFile, keyFile)
    }

    static func client(trusting certificateFile: URL, http1Only: Bool = false) throws -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(certificateFile.path))
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.httpVersion = http1Only ? .http1Only : .automatic
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    @Test func servesHTTPSWithHTTP2AndHandsOutHTTPSURLs() async throws {
        let files = try Self.makeCertificate()
        defer { try? FileManager.default.removeItem(at: files.certificate.deletingLastPathComponent()) }
        try await TestServer.with(configure: {
            $0.tlsCertificateFile = files.certificate
            $0.tlsKeyFile = files.key
        }) { server in
            #expect(server.baseURL.hasPrefix("https://"))
            let client = try Self.client(trusting: files.certificate)
            let http1 = try Self.client(trusting: files.certificate, http1Only: true)
            do {
                try await Self.exercise(server, client, http1, certificateFile: files.certificate)
            } catch {
                try? await client.shutdown()
                try? await http1.shutdown()
                throw error
            }
            try await client.shutdown()
            try await http1.shutdown()
        }
    }

    private static func exercise(_ server: TestServer, _ client: HTTPClient, _ http1: HTTPClient, certificateFile: URL) async throws {
        do {
            var put = HTTPClientRequest(url: server.baseURL + "/secure/")
            put.method = .POST
            put.headers.add(name: "Content-Type", value: "application/json")
            put.body = .bytes(ByteBuffer(string: #"{"s":1}"#))
            let created = try await client.execute(put, timeout: .seconds(10))
            #expect(created.status == .created)
            #expect(created.version == .http2)
            #expect(created.headers.first(name: "Location")?.hasPrefix("https://127.0.0.1:") == true)

            // Several event streams share the one HTTP/2 connection.
            let streams = try await withThrowingTaskGroup(of: HTTPVersion.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        let response = try await client.execute(
                            HTTPClientRequest(url: server.baseURL + "/.eddy/events?path=/secure/&after=0"), timeout: .seconds(10))
                        var iterator = response.body.makeAsyncIterator()
                        var text = ""
                        while !text.contains("\"s\":1"), let chunk = try await iterator.next() { text += String(buffer: chunk) }
                        return response.version
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(streams.count == 8 && streams.allSatisfy { $0 == .http2 })

            let overHTTP1 = try await http1.execute(HTTPClientRequest(url: server.baseURL + "/healthz"), timeout: .seconds(10))
            #expect(overHTTP1.status == .ok)
            #expect(overHTTP1.version == .http1_1)

            // An HTTP/1.1 stream over TLS is written from behind the TLS handler.
            let streamOverHTTP1 = try await http1.execute(
                HTTPClientRequest(url: server.baseURL + "/.eddy/events?path=/secure/&after=0"), timeout: .seconds(10))
            #expect(streamOverHTTP1.version == .http1_1)
            var chunks = streamOverHTTP1.body.makeAsyncIterator()
            var streamed = ""
            while !streamed.contains("\"s\":1"), let chunk = try await chunks.next() { streamed += String(buffer: chunk) }
            #expect(streamed.hasPrefix(": eddy\n\n") && streamed.contains("\"s\":1"))

            // WSS: the multiplex socket link uses the secure scheme and works.
            var get = HTTPClientRequest(url: server.baseURL + "/secure/")
            get.method = .HEAD
            let links = LinkHeaders.parse(try await client.execute(get, timeout: .seconds(10)).headers)
            let socketURL = try #require(links["multiplex-ws"])
            #expect(socketURL.hasPrefix("wss://127.0.0.1:"))
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(certificateFile.path))
            let received = Mutex<JSONValue?>(nil)
            var logger = Logger(label: "wss-test")
            logger.logLevel = .error
            var socketConfiguration = WebSocketClientConfiguration()
            socketConfiguration.sniHostname = "localhost"  // SNI cannot carry an IP address
            try await WebSocketClient.connect(url: socketURL, configuration: socketConfiguration, tlsConfiguration: tls, logger: logger) {
                inbound, outbound, _ in
                try await outbound.write(.text(#"{"id":1,"type":"subscribe","mode":"changes","uri":"/secure/"}"#))
                var messages = inbound.messages(maxSize: 1 << 16).makeAsyncIterator()
                if case .text(let text)? = try await messages.next() { received.withLock { $0 = try? JSONValue(parsing: text) } }
            }
            #expect(received.withLock { $0 } == (try JSONValue(parsing: #"{"id":1,"type":"subscribed"}"#)))
        }
    }
}
