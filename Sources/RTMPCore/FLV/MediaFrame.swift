import NIOCore

/// Codecs LiveGate recognises in FLV tags (legacy codec ids and Enhanced RTMP FourCCs).
public enum MediaCodec: String, Sendable, Equatable, CaseIterable {
    case h264, hevc, av1, vp9, vp8, vvc, h263, vp6, screen
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
    /// E-RTMP audio `MultichannelConfig`: the channel order and count of a track.
    case multichannelConfig
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
    /// The frame's bytes as the chunks brought them (several pieces only for a coded frame
    /// larger than a chunk: docs/contract.md §2 "Payloads in chunks").
    public var body: ChunkedPayload
    /// The frame's bytes in one buffer — a copy when `body` is in pieces; code on the path of
    /// every frame reads `body` (or `byteCount`) instead.
    public var data: ByteBuffer {
        get { body.joined() }
        set { body = ChunkedPayload(newValue) }
    }
    /// The frame's size in bytes, without joining anything.
    public var byteCount: Int { body.readableBytes }
    /// Legacy FLV audio header fields (rate/channels) for codecs without a config record.
    public var legacyAudio: FLVAudioHeader?
    /// The E-RTMP track (`trackId`; 0 for a single-track message, the default track).
    public var trackId: UInt8 = 0
    /// E-RTMP ModEx `TimestampOffsetNano`: nanoseconds (0…999,999) after `dts`, for a stream
    /// whose clock is finer than RTMP's milliseconds.
    public var timestampOffsetNanos: Int32 = 0

    public var pts: Int64 { dts + Int64(compositionTimeOffset) }

    public init(kind: MediaKind, codec: MediaCodec, packetType: MediaPacketType, isKeyframe: Bool, dts: Int64, compositionTimeOffset: Int32 = 0,
                data: ByteBuffer, legacyAudio: FLVAudioHeader? = nil) {
        self.kind = kind
        self.codec = codec
        self.packetType = packetType
        self.isKeyframe = isKeyframe
        self.dts = dts
        self.compositionTimeOffset = compositionTimeOffset
        self.body = ChunkedPayload(data)
        self.legacyAudio = legacyAudio
    }
}

/// The sound-format bits of a legacy FLV audio tag.
public struct FLVAudioHeader: Sendable, Equatable {
    public var sampleRate: Int
    public var channels: Int
    public var bitsPerSample: Int
}

/// One track of a publish: its kind and E-RTMP track id.
public struct MediaTrackKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var kind: MediaKind
    public var trackId: UInt8

    public init(kind: MediaKind, trackId: UInt8) {
        self.kind = kind
        self.trackId = trackId
    }

    /// Video before audio, then by track id (the order of `/stats` `tracks`).
    public static func < (a: Self, b: Self) -> Bool {
        a.kind != b.kind ? a.kind == .video : a.trackId < b.trackId
    }

    public var description: String { "\(kind.rawValue) \(trackId)" }
}

/// The timeline and codec parameters of a track other than 0 (track 0 keeps the connection's
/// own, for compatibility with everything that reads them).
public struct TrackMeasurement: Sendable, Equatable {
    public var timeline = TimestampTimeline()
    public var video: VideoCodecParameters?
    public var audio: AudioCodecParameters?

    public init(video: VideoCodecParameters? = nil, audio: AudioCodecParameters? = nil) {
        self.video = video
        self.audio = audio
    }

    /// Puts `frame` on this track's timeline and learns what its headers (or, for audio
    /// codecs without one, its first frame) say.
    mutating func measure(_ frame: inout MediaFrame, timestamp: UInt32) {
        if frame.packetType == .codedFrames {
            frame.dts = timeline.next(timestamp)
            if frame.kind == .video, frame.codec == .vp9, frame.isKeyframe, video?.width == nil, let size = VideoCodecParameters.keyframeSize(frame) {
                var known = video ?? VideoCodecParameters(codec: .vp9)
                (known.width, known.height) = (size.width, size.height)
                video = known
            }
            if frame.kind == .audio, audio?.sampleRate == nil, let measured = AudioCodecParameters.parse(frame) {
                audio = measured.keepingLayout(of: audio)
            }
            return
        }
        frame.dts = timeline.peek(timestamp)
        if frame.kind == .video, frame.packetType == .metadata, let color = VideoColorInfo.parse(frame.data) {
            var known = video ?? VideoCodecParameters(codec: frame.codec)
            known.color = color
            video = known
        }
        if frame.packetType == .sequenceHeader {
            if frame.kind == .video, var params = VideoCodecParameters.parse(frame) {
                params.color = video?.color
                video = params
            }
            if frame.kind == .audio, let params = AudioCodecParameters.parse(frame) { audio = params }
        }
        if frame.packetType == .multichannelConfig, let config = AudioMultichannelConfig.parse(frame.data) {
            audio = (audio ?? AudioCodecParameters(codec: frame.codec)).applying(config)
        }
    }
}
