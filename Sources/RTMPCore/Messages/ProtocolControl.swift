import NIOCore

/// Builders and parsers for protocol control messages (RTMP 1.0 §5.4) and
/// User Control events (§6.2), all sent on chunk stream 2, message stream 0.
public enum ProtocolControl {
    public enum PeerBandwidthLimit: UInt8, Sendable { case hard = 0, soft = 1, dynamic = 2 }

    public static func setChunkSize(_ size: UInt32) -> RTMPMessage {
        control(.setChunkSize) { $0.writeInteger(size & 0x7FFF_FFFF) }
    }

    public static func windowAcknowledgementSize(_ size: UInt32) -> RTMPMessage {
        control(.windowAcknowledgementSize) { $0.writeInteger(size) }
    }

    public static func setPeerBandwidth(_ size: UInt32, limit: PeerBandwidthLimit) -> RTMPMessage {
        control(.setPeerBandwidth) {
            $0.writeInteger(size)
            $0.writeInteger(limit.rawValue)
        }
    }

    public static func acknowledgement(sequenceNumber: UInt32) -> RTMPMessage {
        control(.acknowledgement) { $0.writeInteger(sequenceNumber) }
    }

    public static func abort(chunkStreamID: UInt32) -> RTMPMessage {
        control(.abort) { $0.writeInteger(chunkStreamID) }
    }

    public static func userControl(_ event: UserControlEvent) -> RTMPMessage {
        control(.userControl) { event.write(into: &$0) }
    }

    static func control(_ type: MessageTypeID, _ body: (inout ByteBuffer) -> Void) -> RTMPMessage {
        var payload = ByteBuffer()
        body(&payload)
        return RTMPMessage(chunkStreamID: ChunkStreamID.protocolControl, timestamp: 0, typeID: type, streamID: 0, payload: payload)
    }
}

/// User Control Message events (RTMP 1.0 §6.2; message type 4).
public enum UserControlEvent: Sendable, Equatable {
    case streamBegin(streamID: UInt32)
    case streamEOF(streamID: UInt32)
    case streamDry(streamID: UInt32)
    case setBufferLength(streamID: UInt32, milliseconds: UInt32)
    case streamIsRecorded(streamID: UInt32)
    case pingRequest(timestamp: UInt32)
    case pingResponse(timestamp: UInt32)
    case other(type: UInt16)

    public init(parsing payload: ByteBuffer) throws(RTMPProtocolError) {
        var p = payload
        guard let type = p.readInteger(as: UInt16.self) else { throw RTMPProtocolError(.chunk, "User Control message shorter than 2 bytes") }
        func u32() throws(RTMPProtocolError) -> UInt32 {
            guard let v = p.readInteger(as: UInt32.self) else { throw RTMPProtocolError(.chunk, "User Control event \(type) truncated") }
            return v
        }
        switch type {
        case 0: self = .streamBegin(streamID: try u32())
        case 1: self = .streamEOF(streamID: try u32())
        case 2: self = .streamDry(streamID: try u32())
        case 3: self = .setBufferLength(streamID: try u32(), milliseconds: try u32())
        case 4: self = .streamIsRecorded(streamID: try u32())
        case 6: self = .pingRequest(timestamp: try u32())
        case 7: self = .pingResponse(timestamp: try u32())
        default: self = .other(type: type)
        }
    }

    func write(into out: inout ByteBuffer) {
        switch self {
        case .streamBegin(let id): out.writeInteger(UInt16(0)); out.writeInteger(id)
        case .streamEOF(let id): out.writeInteger(UInt16(1)); out.writeInteger(id)
        case .streamDry(let id): out.writeInteger(UInt16(2)); out.writeInteger(id)
        case .setBufferLength(let id, let ms): out.writeInteger(UInt16(3)); out.writeInteger(id); out.writeInteger(ms)
        case .streamIsRecorded(let id): out.writeInteger(UInt16(4)); out.writeInteger(id)
        case .pingRequest(let ts): out.writeInteger(UInt16(6)); out.writeInteger(ts)
        case .pingResponse(let ts): out.writeInteger(UInt16(7)); out.writeInteger(ts)
        case .other(let type): out.writeInteger(type)
        }
    }
}
