import NIOCore

/// Splits messages into chunks (RTMP 1.0 §5.3), compressing headers the way ffmpeg does:
/// fmt 0 for the first message on a chunk stream or a new message stream id, fmt 1 when length
/// or type changes, fmt 2 when only the timestamp delta changes, fmt 3 when nothing does.
/// Continuation chunks are fmt 3 and repeat an extended timestamp, which every reader accepts.
public struct ChunkEncoder {
    struct LastHeader {
        var timestamp: UInt32
        var timestampField: UInt32
        var length: Int
        var typeID: MessageTypeID
        var streamID: UInt32
    }

    public private(set) var chunkSize: Int = 128
    private var last: [UInt32: LastHeader] = [:]

    public init() {}

    /// Takes effect for the next message; send a Set Chunk Size message first.
    public mutating func setChunkSize(_ size: Int) {
        chunkSize = max(1, min(size, 0x7FFF_FFFF))
    }

    public mutating func write(_ message: RTMPMessage, into out: inout ByteBuffer) {
        let csid = message.chunkStreamID
        let length = message.payload.readableBytes
        var fmt: UInt8 = 0
        var field = message.timestamp
        if let prev = last[csid], prev.streamID == message.streamID, message.timestamp >= prev.timestamp {
            field = message.timestamp - prev.timestamp
            if prev.length == length && prev.typeID == message.typeID {
                fmt = field == prev.timestampField ? 3 : 2
            } else {
                fmt = 1
            }
        }
        last[csid] = LastHeader(timestamp: message.timestamp, timestampField: field, length: length, typeID: message.typeID, streamID: message.streamID)

        let extended = field >= 0xFFFFFF
        out.reserveCapacity(minimumWritableBytes: length + 18 + (length / chunkSize) * 8)
        Self.writeBasicHeader(fmt: fmt, csid: csid, into: &out)
        if fmt <= 2 { out.writeUInt24(extended ? 0xFFFFFF : field) }
        if fmt <= 1 {
            out.writeUInt24(UInt32(length))
            out.writeInteger(message.typeID.rawValue)
        }
        if fmt == 0 { out.writeInteger(message.streamID, endianness: .little) }
        if extended { out.writeInteger(field) }

        var payload = message.payload
        var first = true
        while first || payload.readableBytes > 0 {
            if !first {
                Self.writeBasicHeader(fmt: 3, csid: csid, into: &out)
                if extended { out.writeInteger(field) }
            }
            first = false
            let n = min(chunkSize, payload.readableBytes)
            if let slice = payload.readSlice(length: n) { out.writeImmutableBuffer(slice) }
        }
    }

    static func writeBasicHeader(fmt: UInt8, csid: UInt32, into out: inout ByteBuffer) {
        if csid >= 2 && csid <= 63 {
            out.writeInteger(fmt << 6 | UInt8(csid))
        } else if csid >= 64 && csid <= 319 {
            out.writeInteger(fmt << 6)
            out.writeInteger(UInt8(csid - 64))
        } else {
            let id = min(max(csid, 64), ChunkStreamID.maximum) - 64
            out.writeInteger(fmt << 6 | 1)
            out.writeInteger(UInt8(truncatingIfNeeded: id))
            out.writeInteger(UInt8(truncatingIfNeeded: id >> 8))
        }
    }
}
