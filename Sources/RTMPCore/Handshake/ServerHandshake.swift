import NIOCore

/// The server half of the RTMP handshake (C0+C1 → S0+S1+S2, then C2) as a pure state machine.
///
/// A C1 whose digest verifies with the Flash Player key gets a digest answer in the same
/// scheme (S1 signed with the server key, S2 signed over the client's digest); anything else
/// gets the plain answer (S2 echoes C1). C2 is read but never fatal: encoders echo S1 loosely
/// (wrong time fields, unsigned C2 after a digest S2), and nginx-rtmp and SRS accept them too.
public struct ServerHandshake {
    public enum Kind: String, Sendable { case plain, digest }

    public enum Step: Equatable {
        /// Write these bytes (S0+S1+S2).
        case send(ByteBuffer)
        /// C2 received; the chunk stream starts with whatever remains in the buffer.
        case complete(kind: Kind, c2Matched: Bool)
    }

    enum State {
        case awaitingC0C1
        /// `s1Digest` is set for the digest handshake: a signing client's C2 ends with an HMAC over it.
        case awaitingC2(kind: Kind, s1: [UInt8], s1Digest: [UInt8]?)
        case complete
    }

    public static let version: UInt8 = 3
    private var state: State = .awaitingC0C1
    private var random: any RandomNumberGenerator
    private let epochMilliseconds: UInt32

    /// - Parameters:
    ///   - random: injected so tests are repeatable.
    ///   - epochMilliseconds: the S1 time field (server uptime in ms; any value is legal).
    public init(random: any RandomNumberGenerator = HandshakeRandom(), epochMilliseconds: UInt32 = 0) {
        self.random = random
        self.epochMilliseconds = epochMilliseconds
    }

    public var isComplete: Bool {
        if case .complete = state { return true }
        return false
    }

    /// Consumes handshake bytes from `buffer`. Returns `nil` when more bytes are needed.
    public mutating func next(_ buffer: inout ByteBuffer, allocator: ByteBufferAllocator = ByteBufferAllocator()) throws(RTMPProtocolError) -> Step? {
        switch state {
        case .awaitingC0C1:
            guard let version = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
            guard version == Self.version else {
                throw RTMPProtocolError(.handshake, "unsupported RTMP version \(version) (encrypted RTMPE is not supported)")
            }
            guard buffer.readableBytes >= 1 + HandshakeDigest.packetSize else { return nil }
            buffer.moveReaderIndex(forwardBy: 1)
            let c1 = buffer.readBytes(length: HandshakeDigest.packetSize) ?? []
            return .send(respond(to: c1, allocator: allocator))
        case .awaitingC2(let kind, let s1, let s1Digest):
            guard let c2 = buffer.readBytes(length: HandshakeDigest.packetSize) else { return nil }
            // Either form counts as a match: ffmpeg echoes S1 even after a digest handshake
            // when publishing; Flash Player signs. A mismatch is only reported, never fatal.
            var matched = c2[8...] == s1[8...]
            if !matched, let s1Digest {
                let signature = HandshakeDigest.responseSignature(for: c2[...], peerDigest: s1Digest, fullKey: HandshakeDigest.playerKey)
                matched = HandshakeDigest.constantTimeEqual(signature, c2[(HandshakeDigest.packetSize - HandshakeDigest.digestSize)...])
            }
            state = .complete
            return .complete(kind: kind, c2Matched: matched)
        case .complete:
            return nil
        }
    }

    private mutating func randomBytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            var word = random.next()
            for _ in 0..<8 where i < count {
                bytes[i] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                i += 1
            }
        }
        return bytes
    }

    private mutating func respond(to c1: [UInt8], allocator: ByteBufferAllocator) -> ByteBuffer {
        var out = allocator.buffer(capacity: 1 + 2 * HandshakeDigest.packetSize)
        out.writeInteger(Self.version)
        var s1 = randomBytes(HandshakeDigest.packetSize)
        s1.replaceSubrange(0..<4, with: withUnsafeBytes(of: epochMilliseconds.bigEndian, Array.init))

        // A zero version field means the client wants the plain handshake.
        let clientVersionNonZero = c1[4..<8].contains { $0 != 0 }
        let clientDigest = clientVersionNonZero
            ? HandshakeDigest.validate(c1, key: Array(HandshakeDigest.playerKey.prefix(30))) : nil

        if let (scheme, digest) = clientDigest {
            // Version field as FMS 3.5 answers (non-zero marks a digest S1).
            s1.replaceSubrange(4..<8, with: [0x04, 0x05, 0x00, 0x01])
            let s1Digest = HandshakeDigest.imprint(&s1, scheme: scheme, key: Array(HandshakeDigest.serverKey.prefix(36)))
            var s2 = randomBytes(HandshakeDigest.packetSize)
            let signature = HandshakeDigest.responseSignature(for: s2[...], peerDigest: digest, fullKey: HandshakeDigest.serverKey)
            s2.replaceSubrange((HandshakeDigest.packetSize - HandshakeDigest.digestSize)..., with: signature)
            out.writeBytes(s1)
            out.writeBytes(s2)
            state = .awaitingC2(kind: .digest, s1: s1, s1Digest: s1Digest)
        } else {
            s1.replaceSubrange(4..<8, with: [0, 0, 0, 0])
            out.writeBytes(s1)
            out.writeBytes(c1) // S2 echoes C1.
            state = .awaitingC2(kind: .plain, s1: s1, s1Digest: nil)
        }
        return out
    }
}
