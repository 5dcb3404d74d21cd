@testable import EddyServer
import FuzzDriver
import Logging
import NIOCore
import NIOEmbedded

/// A connection's first bytes, split into reads of a size the first byte chooses, through the
/// guard that stands before the HTTP parser. Whatever arrives, the guard passes it on, removes
/// itself once a head is complete, or answers with a complete 4xx problem and closes.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzFirstRequestGuard(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard let first = bytes.first else { return 0 }
    let chunk = Int(first % 64) + 1
    let maximumHeaderBytes = 512
    let channel = EmbeddedChannel()
    defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
    let logger = Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() })
    do {
        try channel.pipeline.syncOperations.addHandler(
            FirstRequestGuard(timeout: .seconds(10), maximumHeaderBytes: maximumHeaderBytes, logger: logger))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
    } catch {
        fatalError("the pipeline could not be set up: \(error)")
    }
    var passed = 0
    var rest = bytes.dropFirst()
    while !rest.isEmpty, channel.isActive {
        let piece = rest.prefix(chunk)
        rest = rest.dropFirst(piece.count)
        var buffer = channel.allocator.buffer(capacity: piece.count)
        buffer.writeBytes(piece)
        do {
            try channel.writeInbound(buffer)
        } catch {
            break
        }
        while let forwarded = try? channel.readInbound(as: ByteBuffer.self) { passed += forwarded.readableBytes }
    }
    guard passed <= size - 1 else { fatalError("the guard passed on \(passed) bytes of \(size - 1)") }
    while let reply = try? channel.readOutbound(as: ByteBuffer.self) {
        let text = String(buffer: reply)
        guard text.hasPrefix("HTTP/1.1 4"), text.contains("\r\n\r\n"), text.contains("Connection: close") else {
            fatalError("the guard answered \(text)")
        }
        guard !channel.isActive else { fatalError("the guard answered \(text) without closing") }
    }
    return 0
}

runFuzzer(fuzzFirstRequestGuard)
