internal import CFFmpeg
import NIOCore
import RTMPCore

/// One elementary stream of an output, described the way libavformat needs it: codec,
/// extradata (the publisher's sequence header as sent — AVCDecoderConfigurationRecord,
/// HEVCDecoderConfigurationRecord, AV1CodecConfigurationRecord, VP codec configuration or
/// AudioSpecificConfig) and the basic geometry. Built from RTMP packets, never by re-parsing
/// an FLV byte stream.
public struct TrackFormat: Sendable, Equatable {
    public var kind: MediaKind
    public var codec: MediaCodec
    /// The E-RTMP track id (0: the default track, the only one of a single-track publish).
    public var trackId: UInt8 = 0
    public var extradata: [UInt8]
    public var width: Int?
    public var height: Int?
    public var sampleRate: Int?
    public var channels: Int?
    /// Video: what the sequence header says (profile, level, bit depth, chroma). Muxers that
    /// write their own configuration box from the stream parameters need them — MP4's `vpcC`
    /// for VP9 cannot be written without the pixel format.
    public var profile: Int?
    public var level: Int?
    public var bitDepth: Int?
    public var chromaFormat: String?
    /// HLS `VIDEO-RANGE` (SDR, PQ, HLG) from the track's colour metadata packet, when it came
    /// before the session's outputs were laid out.
    public var videoRange: String?
    /// An audio track's language (BCP 47) from `onMetaData`, for `EXT-X-MEDIA` `LANGUAGE`.
    public var language: String?

    public init(kind: MediaKind, codec: MediaCodec, extradata: [UInt8], width: Int? = nil, height: Int? = nil,
                sampleRate: Int? = nil, channels: Int? = nil, profile: Int? = nil, level: Int? = nil, bitDepth: Int? = nil,
                chromaFormat: String? = nil) {
        self.profile = profile
        self.level = level
        self.bitDepth = bitDepth
        self.chromaFormat = chromaFormat
        self.kind = kind
        self.codec = codec
        self.extradata = extradata
        self.width = width
        self.height = height
        self.sampleRate = sampleRate
        self.channels = channels
    }

    /// Codecs LiveGate can remux (libavformat's MPEG-TS, MP4 and FLV muxers accept all of them
    /// except where `OutputContainer.accepts` says otherwise).
    static func avCodecID(_ codec: MediaCodec) -> AVCodecID? {
        switch codec {
        case .h264: AV_CODEC_ID_H264
        case .hevc: AV_CODEC_ID_HEVC
        case .av1: AV_CODEC_ID_AV1
        case .vp9: AV_CODEC_ID_VP9
        case .aac: AV_CODEC_ID_AAC
        case .mp3: AV_CODEC_ID_MP3
        case .opus: AV_CODEC_ID_OPUS
        case .flac: AV_CODEC_ID_FLAC
        case .ac3: AV_CODEC_ID_AC3
        case .eac3: AV_CODEC_ID_EAC3
        default: nil
        }
    }

    /// The track a video sequence header describes, or nil when the codec cannot be remuxed.
    public static func video(sequenceHeader frame: MediaFrame) -> TrackFormat? {
        guard frame.kind == .video, frame.packetType == .sequenceHeader, avCodecID(frame.codec) != nil else { return nil }
        let params = VideoCodecParameters.parse(frame)
        var track = TrackFormat(kind: .video, codec: frame.codec, extradata: Array(frame.data.readableBytesView),
                                width: params?.width, height: params?.height, profile: params?.profile, level: params?.level,
                                bitDepth: params?.bitDepth, chromaFormat: params?.chromaFormat)
        track.trackId = frame.trackId
        return track
    }

    /// libavutil's pixel format for a bit depth and chroma format (planar YUV, little-endian);
    /// nil when the sequence header did not say (the muxers then go without).
    var pixelFormat: AVPixelFormat? {
        switch (bitDepth ?? (chromaFormat == nil ? nil : 8), chromaFormat ?? "4:2:0") {
        case (8?, "4:2:0"): AV_PIX_FMT_YUV420P
        case (10?, "4:2:0"): AV_PIX_FMT_YUV420P10LE
        case (12?, "4:2:0"): AV_PIX_FMT_YUV420P12LE
        case (8?, "4:2:2"): AV_PIX_FMT_YUV422P
        case (10?, "4:2:2"): AV_PIX_FMT_YUV422P10LE
        case (12?, "4:2:2"): AV_PIX_FMT_YUV422P12LE
        case (8?, "4:4:4"): AV_PIX_FMT_YUV444P
        case (10?, "4:4:4"): AV_PIX_FMT_YUV444P10LE
        case (12?, "4:4:4"): AV_PIX_FMT_YUV444P12LE
        case (8?, "4:0:0"): AV_PIX_FMT_GRAY8
        case (10?, "4:0:0"): AV_PIX_FMT_GRAY10LE
        case (12?, "4:0:0"): AV_PIX_FMT_GRAY12LE
        default: nil
        }
    }

    /// The track an audio sequence header (or, for codecs without one, the first frame) describes.
    public static func audio(_ frame: MediaFrame) -> TrackFormat? {
        guard frame.kind == .audio, avCodecID(frame.codec) != nil else { return nil }
        let params = AudioCodecParameters.parse(frame)
        // MP3's and AC-3's sequence start (FFmpeg sends an empty one) says nothing: their
        // first frame describes the track.
        if frame.packetType == .sequenceHeader, params == nil, [.mp3, .ac3, .eac3].contains(frame.codec) { return nil }
        var extradata = frame.packetType == .sequenceHeader ? Array(frame.data.readableBytesView) : []
        if frame.codec == .flac { extradata = flacStreamInfo(extradata) }
        if frame.codec == .aac && extradata.isEmpty { return nil } // AAC needs its AudioSpecificConfig
        var track = TrackFormat(kind: .audio, codec: frame.codec, extradata: extradata,
                                sampleRate: params?.sampleRate ?? frame.legacyAudio?.sampleRate,
                                channels: params?.channels ?? frame.legacyAudio?.channels)
        track.trackId = frame.trackId
        return track
    }

    /// FLAC's sequence start may be `fLaC` + a metadata block header + STREAMINFO (as E-RTMP
    /// describes it) or STREAMINFO alone; libavformat's MP4 muxer writes `dfLa` from the
    /// 34-byte STREAMINFO, so that is what the track keeps.
    static func flacStreamInfo(_ bytes: [UInt8]) -> [UInt8] {
        var b = bytes[...]
        if b.starts(with: Array("fLaC".utf8)) { b = b.dropFirst(4) }
        if b.count >= 38, b[b.startIndex] & 0x7F == 0, b[b.startIndex + 1] == 0, b[b.startIndex + 2] == 0, b[b.startIndex + 3] == 34 {
            b = b.dropFirst(4)
        }
        return b.count >= 34 ? Array(b.prefix(34)) : bytes
    }

    /// Whether `other` describes the same stream as far as the outputs care. FLAC's STREAMINFO
    /// is sent again at the end of a stream with its totals filled in (sample count, MD5):
    /// that is no new stream, and must not start a new segment or recording part.
    func sameStream(as other: TrackFormat?) -> Bool {
        guard let other else { return false }
        if codec == .flac, other.codec == .flac {
            return sampleRate == other.sampleRate && channels == other.channels && trackId == other.trackId
        }
        return self == other
    }

    /// "video 1 (hevc)": how logs and output statuses name a track.
    var label: String { "\(kind.rawValue) \(trackId) (\(codec.rawValue))" }
}

/// The tracks of one output segment: video tracks by track id, then audio tracks by track id
/// (so index 0 is video track 0 when there is video). A change of layout (new resolution, a
/// track appearing) starts a new segment on every output.
public struct StreamLayout: Sendable, Equatable {
    public var tracks: [TrackFormat]

    public init(tracks: [TrackFormat]) { self.tracks = tracks }

    /// The default (lowest-numbered) video and audio tracks.
    public var video: TrackFormat? { tracks.first { $0.kind == .video } }
    public var audio: TrackFormat? { tracks.first { $0.kind == .audio } }
    public var hasVideo: Bool { video != nil }
    public var videoTracks: [TrackFormat] { tracks.filter { $0.kind == .video } }
    public var audioTracks: [TrackFormat] { tracks.filter { $0.kind == .audio } }
    func index(of kind: MediaKind) -> Int? { tracks.firstIndex { $0.kind == kind } }
    func index(of kind: MediaKind, trackId: UInt8) -> Int? { tracks.firstIndex { $0.kind == kind && $0.trackId == trackId } }
    /// The track whose keyframes start every output segment: the default video track.
    var primaryVideoIndex: Int? { index(of: .video) }

    /// The tracks `keep` accepts, and for each of this layout's indices where it went.
    func projected(_ keep: (TrackFormat) -> Bool) -> TrackProjection {
        var map = [Int?](repeating: nil, count: tracks.count)
        var kept: [TrackFormat] = []
        var dropped: [TrackFormat] = []
        for (i, track) in tracks.enumerated() {
            if keep(track) {
                map[i] = kept.count
                kept.append(track)
            } else {
                dropped.append(track)
            }
        }
        return TrackProjection(layout: StreamLayout(tracks: kept), indexMap: map, dropped: dropped)
    }

    /// The default video and audio tracks only: what a plain (not Enhanced) RTMP target gets.
    var defaultTracks: TrackProjection {
        let v = video, a = audio
        return projected { $0 == v || $0 == a }
    }
}

/// Part of a layout, for an output that takes only some of the tracks (a plain RTMP forward:
/// track 0; a container that cannot carry a codec): packets are renumbered into it, the rest
/// are not written — and `dropped` names them, for the output's status and log.
struct TrackProjection: Sendable, Equatable {
    var layout: StreamLayout
    var indexMap: [Int?]
    var dropped: [TrackFormat]

    func map(_ packet: MediaPacket) -> MediaPacket? {
        guard packet.track < indexMap.count, let index = indexMap[packet.track] else { return nil }
        var p = packet
        p.track = index
        return p
    }
}

/// One coded frame on its way to an output, timestamps in milliseconds from the session's
/// first packet. `data` is the publisher's payload (a slice of the RTMP message, not a copy).
public struct MediaPacket: Sendable {
    public var kind: MediaKind
    public var track: Int
    public var dts: Int64
    public var pts: Int64
    public var isKeyframe: Bool
    public var data: ByteBuffer
    /// E-RTMP ModEx `TimestampOffsetNano` (0…999,999): added to both times when a muxer rescales them.
    public var subMillisecondNanos: Int32 = 0

    public init(kind: MediaKind, track: Int, dts: Int64, pts: Int64, isKeyframe: Bool, data: ByteBuffer) {
        self.kind = kind
        self.track = track
        self.dts = dts
        self.pts = pts
        self.isKeyframe = isKeyframe
        self.data = data
    }
}
