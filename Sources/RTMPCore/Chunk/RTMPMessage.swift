import NIOCore

/// One reassembled RTMP message. Its bytes are slices of the connection's receive buffers, not
/// copied: one slice when the message came in one chunk; for audio and video, one per chunk
/// (`body`, joined only where needed: docs/contract.md §2 "Payloads in chunks"); other
/// messages — commands, data, control — are joined when they complete.
public struct RTMPMessage: Sendable, Equatable {
    public var chunkStreamID: UInt32
    /// The 32-bit RTMP timestamp (ms); wraps after ~49.7 days. See `TimestampTimeline`.
    public var timestamp: UInt32
    public var typeID: MessageTypeID
    public var streamID: UInt32
    /// The payload as the chunks brought it.
    public var body: ChunkedPayload

    /// The payload in one buffer (a copy when `body` is in several pieces: media code that can
    /// work on the pieces reads `body`).
    public var payload: ByteBuffer {
        get { body.joined() }
        set { body = ChunkedPayload(newValue) }
    }

    public init(chunkStreamID: UInt32, timestamp: UInt32, typeID: MessageTypeID, streamID: UInt32, payload: ByteBuffer) {
        self.init(chunkStreamID: chunkStreamID, timestamp: timestamp, typeID: typeID, streamID: streamID, body: ChunkedPayload(payload))
    }

    public init(chunkStreamID: UInt32, timestamp: UInt32, typeID: MessageTypeID, streamID: UInt32, body: ChunkedPayload) {
        self.chunkStreamID = chunkStreamID
        self.timestamp = timestamp
        self.typeID = typeID
        self.streamID = streamID
        self.body = body
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
