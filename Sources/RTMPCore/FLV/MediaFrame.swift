import NIOCore

/// Codecs LiveGate recognises in FLV tags (legacy codec ids and Enhanced RTMP FourCCs).
public enum MediaCodec: String, Sendable, Equatable, CaseIterable {
    case h264, hevc, av1, vp9, vp8, h263, vp6, screen
    case aac, mp3, opus, flac, ac3, eac3, pcm, nellymoser, speex, g711a, g711u
    case unknown
}

public enum MediaKind: String, Sendable, Equatable { case audio, video }

/// What a media packet carries, in the terms of the FLV/E-RTMP packet types.
public enum MediaPacketType: String, Sendable, Equatable {
    /// AVC/HEVC decoder configuration record, AudioSpecificConfig, E-RTMP SequenceStart.
    case sequenceHeader
    case codedFrames
    case sequenceEnd
    /// E-RTMP video metadata (AMF, e.g. colour info).
    case metadata
}

/// One parsed audio or video message, with its 64-bit decode timestamp.
/// `data` is the codec payload with the FLV tag header removed (a slice, not a copy).
public struct MediaFrame: Sendable, Equatable {
    public var kind: MediaKind
    public var codec: MediaCodec
    public var packetType: MediaPacketType
    public var isKeyframe: Bool
    /// Decode timestamp in milliseconds on the stream's monotonic 64-bit timeline.
    public var dts: Int64
    /// pts − dts in milliseconds (FLV CompositionTime, signed 24-bit).
    public var compositionTimeOffset: Int32
    public var data: ByteBuffer
    /// Legacy FLV audio header fields (rate/channels) for codecs without a config record.
    public var legacyAudio: FLVAudioHeader?

    public var pts: Int64 { dts + Int64(compositionTimeOffset) }

    public init(kind: MediaKind, codec: MediaCodec, packetType: MediaPacketType, isKeyframe: Bool, dts: Int64, compositionTimeOffset: Int32 = 0,
                data: ByteBuffer, legacyAudio: FLVAudioHeader? = nil) {
        self.kind = kind
        self.codec = codec
        self.packetType = packetType
        self.isKeyframe = isKeyframe
        self.dts = dts
        self.compositionTimeOffset = compositionTimeOffset
        self.data = data
        self.legacyAudio = legacyAudio
    }
}

/// The sound-format bits of a legacy FLV audio tag.
public struct FLVAudioHeader: Sendable, Equatable {
    public var sampleRate: Int
    public var channels: Int
    public var bitsPerSample: Int
}
