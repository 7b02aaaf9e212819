import NIOCore

/// One reassembled RTMP message. `payload` is a slice of the connection's receive buffer when
/// the message arrived in one chunk (no copy), or its own buffer when it spanned chunks.
public struct RTMPMessage: Sendable, Equatable {
    public var chunkStreamID: UInt32
    /// The 32-bit RTMP timestamp (ms); wraps after ~49.7 days. See `TimestampTimeline`.
    public var timestamp: UInt32
    public var typeID: MessageTypeID
    public var streamID: UInt32
    public var payload: ByteBuffer

    public init(chunkStreamID: UInt32, timestamp: UInt32, typeID: MessageTypeID, streamID: UInt32, payload: ByteBuffer) {
        self.chunkStreamID = chunkStreamID
        self.timestamp = timestamp
        self.typeID = typeID
        self.streamID = streamID
        self.payload = payload
    }
}

/// Chunk stream ids LiveGate uses when it sends, following the conventions of FMS/nginx-rtmp.
public enum ChunkStreamID {
    /// Protocol control messages must use chunk stream 2 (RTMP 1.0 §5.4).
    public static let protocolControl: UInt32 = 2
    /// NetConnection commands and their answers.
    public static let command: UInt32 = 3
    /// NetStream status (onStatus) messages.
    public static let streamStatus: UInt32 = 5
    public static let audio: UInt32 = 4
    public static let video: UInt32 = 6
    public static let data: UInt32 = 5
    /// Largest id the 3-byte basic header can carry.
    public static let maximum: UInt32 = 65599
}
