import EddyServer
import FuzzDriver
import NIOCore
import NIOEmbedded
import NIOWebSocket

/// Client bytes after a WebSocket upgrade, through the frame decoder Eddy's sockets use, split
/// into reads of a size the first byte chooses. Every byte sequence decodes to frames or ends
/// with a protocol error answered by a close frame; no frame exceeds the size limit.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzWebSocketFrames(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard let first = bytes.first else { return 0 }
    let chunk = Int(first % 64) + 1
    let maximumFrameBytes = ServerConfiguration().maximumWebSocketMessageBytes
    let channel = EmbeddedChannel()
    defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
    do {
        try channel.pipeline.syncOperations.addHandlers([
            ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: maximumFrameBytes)),
            WebSocketProtocolErrorHandler(),
        ])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
    } catch {
        fatalError("the pipeline could not be set up: \(error)")
    }
    var rest = bytes.dropFirst()
    while !rest.isEmpty, channel.isActive {
        let piece = rest.prefix(chunk)
        rest = rest.dropFirst(piece.count)
        var buffer = channel.allocator.buffer(capacity: piece.count)
        buffer.writeBytes(piece)
        do {
            try channel.writeInbound(buffer)
        } catch is NIOWebSocketError {
            break
        } catch {
            break
        }
    }
    while let frame = try? channel.readInbound(as: WebSocketFrame.self) {
        guard frame.length <= maximumFrameBytes else { fatalError("a frame of \(frame.length) bytes passed a \(maximumFrameBytes)-byte limit") }
        _ = frame.unmaskedData
    }
    // With no encoder in the pipeline, what the error handler writes stays a frame.
    while let reply = try? channel.readOutbound(as: WebSocketFrame.self) {
        guard reply.opcode == .connectionClose else { fatalError("the decoder answered with a \(reply.opcode) frame") }
    }
    guard (try? channel.readOutbound(as: ByteBuffer.self)) == nil else { fatalError("the decoder wrote raw bytes") }
    return 0
}

runFuzzer(fuzzWebSocketFrames)
