import NIOCore

/// The client half of the handshake, for `rtmp-bench`, forwarding tests and our own tests.
/// Sends a digest C1 (scheme 0, as ffmpeg does) or a plain one, then C2 echoing S1.
public struct ClientHandshake {
    private var c1: [UInt8] = []
    private var sentC0C1 = false
    private var done = false
    public let digest: Bool
    private var random: any RandomNumberGenerator

    public init(digest: Bool = true, random: any RandomNumberGenerator = HandshakeRandom()) {
        self.digest = digest
        self.random = random
    }

    /// C0+C1, to be written first.
    public mutating func start(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var packet = (0..<HandshakeDigest.packetSize).map { _ in UInt8.random(in: 0...255, using: &random) }
        packet.replaceSubrange(0..<4, with: [0, 0, 0, 0])
        if digest {
            packet.replaceSubrange(4..<8, with: [9, 0, 124, 2]) // Flash Player 9.0.124.2, as ffmpeg sends.
            HandshakeDigest.imprint(&packet, scheme: .scheme0, key: Array(HandshakeDigest.playerKey.prefix(30)))
        } else {
            packet.replaceSubrange(4..<8, with: [0, 0, 0, 0])
        }
        c1 = packet
        sentC0C1 = true
        var out = allocator.buffer(capacity: 1 + packet.count)
        out.writeInteger(ServerHandshake.version)
        out.writeBytes(packet)
        return out
    }

    /// Consumes S0+S1+S2 and returns C2; after writing it the handshake is complete.
    /// Returns `nil` while more bytes are needed.
    public mutating func next(_ buffer: inout ByteBuffer, allocator: ByteBufferAllocator = ByteBufferAllocator()) throws(RTMPProtocolError) -> (c2: ByteBuffer, serverUsedDigest: Bool)? {
        guard sentC0C1, !done else { return nil }
        guard buffer.readableBytes >= 1 + 2 * HandshakeDigest.packetSize else { return nil }
        let version = buffer.readInteger(as: UInt8.self)
        guard version == ServerHandshake.version else { throw RTMPProtocolError(.handshake, "server answered version \(version ?? 0)") }
        let s1 = buffer.readBytes(length: HandshakeDigest.packetSize) ?? []
        _ = buffer.readBytes(length: HandshakeDigest.packetSize)
        done = true
        let serverDigest = HandshakeDigest.validate(s1, key: Array(HandshakeDigest.serverKey.prefix(36))) != nil
        var out = allocator.buffer(capacity: HandshakeDigest.packetSize)
        out.writeBytes(s1)
        return (out, serverDigest)
    }
}
