import NIOCore

/// Reads the tags of an FLV file (the container, not RTMP): a 9-byte header, then tags of
/// {type, 24-bit size, 24+8-bit timestamp, stream id, body, previous-tag-size}. Used to replay
/// recorded media (the `rtmp-bench` load generator, tests); bodies are the same bytes an
/// RTMP audio/video/data message carries.
public struct FLVFileReader: Sendable {
    public struct Tag: Sendable, Equatable {
        /// 8 audio, 9 video, 18 script data — the RTMP message type ids.
        public var type: UInt8
        public var timestamp: UInt32
        public var body: ByteBuffer
    }

    public struct Malformed: Error, Sendable, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    public private(set) var tags: [Tag] = []

    public init(bytes: ByteBuffer) throws {
        var b = bytes
        guard let signature = b.readBytes(length: 3), signature == Array("FLV".utf8), b.readInteger(as: UInt8.self) != nil,
              b.readInteger(as: UInt8.self) != nil, let headerSize = b.readInteger(as: UInt32.self), headerSize >= 9 else {
            throw Malformed(description: "not an FLV file")
        }
        b.moveReaderIndex(forwardBy: min(b.readableBytes, Int(headerSize) - 9))
        _ = b.readInteger(as: UInt32.self) // PreviousTagSize0
        while b.readableBytes >= 11 {
            guard let type = b.readInteger(as: UInt8.self), let size = b.readUInt24(), let low = b.readUInt24(),
                  let high = b.readInteger(as: UInt8.self), b.readUInt24() != nil else { break }
            guard let body = b.readSlice(length: Int(size)) else { throw Malformed(description: "truncated tag body") }
            _ = b.readInteger(as: UInt32.self)
            tags.append(Tag(type: type & 0x1F, timestamp: UInt32(high) << 24 | low, body: body))
        }
    }
}
