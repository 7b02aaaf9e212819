import NIOCore

/// What a video sequence header says about the stream: codec, profile, level, size, rate.
public struct VideoCodecParameters: Sendable, Equatable {
    public var codec: MediaCodec
    /// H.264 `profile_idc` (66 Baseline, 77 Main, 100 High …) or HEVC `general_profile_idc`.
    public var profile: Int?
    /// H.264 `level_idc` (31 = 3.1) or HEVC `general_level_idc` (93 = 3.1).
    public var level: Int?
    public var width: Int?
    public var height: Int?
    /// From the SPS VUI timing info when present.
    public var frameRate: Double?
    /// Luma bit depth (8, 10, 12) where the sequence header says it.
    public var bitDepth: Int?
    /// "4:2:0", "4:2:2", "4:4:4" or "4:0:0" where the sequence header says it.
    public var chromaFormat: String?
    /// What an E-RTMP metadata packet said of the colour (HDR: transfer, primaries, light levels).
    public var color: VideoColorInfo?

    public init(codec: MediaCodec, profile: Int? = nil, level: Int? = nil, width: Int? = nil, height: Int? = nil, frameRate: Double? = nil,
                bitDepth: Int? = nil, chromaFormat: String? = nil) {
        self.bitDepth = bitDepth
        self.chromaFormat = chromaFormat
        self.codec = codec
        self.profile = profile
        self.level = level
        self.width = width
        self.height = height
        self.frameRate = frameRate
    }

    /// Human-readable H.264 profile name, as ffprobe prints it.
    public var profileName: String? {
        guard let profile else { return nil }
        switch (codec, profile) {
        case (.h264, 66): return "Baseline"
        case (.h264, 77): return "Main"
        case (.h264, 88): return "Extended"
        case (.h264, 100): return "High"
        case (.h264, 110): return "High 10"
        case (.h264, 122): return "High 4:2:2"
        case (.h264, 244): return "High 4:4:4 Predictive"
        case (.hevc, 1): return "Main"
        case (.hevc, 2): return "Main 10"
        case (.hevc, 3): return "Main Still Picture"
        case (.hevc, 4): return "Rext"
        case (.av1, 0): return "Main"
        case (.av1, 1): return "High"
        case (.av1, 2): return "Professional"
        case (.vp9, _): return "Profile \(profile)"
        case (.vvc, 1): return "Main 10"
        case (.vvc, 2): return "Main 12"
        case (.vvc, 17): return "Multilayer Main 10"
        case (.vvc, 33): return "Main 10 4:4:4"
        case (.vvc, 65): return "Main 10 Still Picture"
        default: return String(profile)
        }
    }

    /// Parses the sequence header of `frame` (which must be a video `.sequenceHeader`).
    public static func parse(_ frame: MediaFrame) -> VideoCodecParameters? {
        let bytes = Array(frame.data.readableBytesView)
        switch frame.codec {
        case .h264: return parseAVCDecoderConfigurationRecord(bytes)
        case .hevc: return parseHEVCDecoderConfigurationRecord(bytes)
        case .av1: return parseAV1CodecConfigurationRecord(bytes)
        case .vp9: return parseVPCodecConfigurationRecord(bytes)
        case .vp8: return VideoCodecParameters(codec: frame.codec)
        case .vvc: return parseVVCDecoderConfigurationRecord(bytes)
        default: return nil
        }
    }

    /// The picture size a keyframe itself codes, for codecs whose sequence start does not carry
    /// it (VP9's `vpcC`): nil for other codecs and for frames that do not say.
    public static func keyframeSize(_ frame: MediaFrame) -> (width: Int, height: Int)? {
        guard frame.kind == .video, frame.packetType == .codedFrames, frame.isKeyframe, frame.codec == .vp9 else { return nil }
        return VP9Headers.keyframeSize(frame.data.readableBytesView).map { ($0.width, $0.height) }
    }

    static func chromaName(_ idc: Int) -> String? {
        switch idc {
        case 0: return "4:0:0"
        case 1: return "4:2:0"
        case 2: return "4:2:2"
        case 3: return "4:4:4"
        default: return nil
        }
    }

    /// AV1CodecConfigurationRecord and its sequence header OBU (`AV1SequenceHeader`).
    static func parseAV1CodecConfigurationRecord(_ b: [UInt8]) -> VideoCodecParameters {
        guard let h = AV1SequenceHeader(configurationRecord: b) else { return VideoCodecParameters(codec: .av1) }
        let chroma = h.monochrome ? "4:0:0" : (h.subsamplingX ? (h.subsamplingY ? "4:2:0" : "4:2:2") : "4:4:4")
        return VideoCodecParameters(codec: .av1, profile: h.profile, level: h.level, width: h.width, height: h.height, frameRate: h.frameRate,
                                    bitDepth: h.bitDepth, chromaFormat: chroma)
    }

    /// VPCodecConfigurationRecord: no size (it comes with the first keyframe, `keyframeSize`).
    static func parseVPCodecConfigurationRecord(_ b: [UInt8]) -> VideoCodecParameters {
        guard let c = VP9Headers.configuration(b) else { return VideoCodecParameters(codec: .vp9) }
        return VideoCodecParameters(codec: .vp9, profile: c.profile, level: c.level, bitDepth: c.bitDepth,
                                    chromaFormat: c.chromaSubsampling <= 1 ? "4:2:0" : (c.chromaSubsampling == 2 ? "4:2:2" : "4:4:4"))
    }

    /// ISO/IEC 14496-15 §5.3.3.1: version, profile, compatibility, level, NAL length size, SPS list.
    static func parseAVCDecoderConfigurationRecord(_ b: [UInt8]) -> VideoCodecParameters? {
        guard b.count >= 7, b[0] == 1 else { return nil }
        var params = VideoCodecParameters(codec: .h264, profile: Int(b[1]), level: Int(b[3]))
        let spsCount = Int(b[5] & 0x1F)
        guard spsCount > 0, b.count >= 8 else { return params }
        let length = Int(b[6]) << 8 | Int(b[7])
        guard b.count >= 8 + length, length > 1 else { return params }
        if let sps = try? H264SPS(nalUnit: b[8..<(8 + length)]) {
            params.width = sps.width
            params.height = sps.height
            params.frameRate = sps.frameRate
            params.profile = sps.profileIDC
            params.level = sps.levelIDC
        }
        return params
    }

    /// ISO/IEC 14496-15 §8.3.3.1: byte 1 holds profile space/tier/profile, byte 12 the level;
    /// the SPS in its arrays gives the size (after its conformance window), chroma and bit depth.
    static func parseHEVCDecoderConfigurationRecord(_ b: [UInt8]) -> VideoCodecParameters? {
        guard b.count >= 23, b[0] == 1 else { return VideoCodecParameters(codec: .hevc) }
        var params = VideoCodecParameters(codec: .hevc, profile: Int(b[1] & 0x1F), level: Int(b[12]))
        if let nal = HEVCSPS.spsNAL(inHVCC: b), let sps = try? HEVCSPS(nalUnit: nal) {
            params.width = sps.width
            params.height = sps.height
            params.bitDepth = sps.bitDepthLuma
            params.chromaFormat = chromaName(sps.chromaFormatIDC)
        }
        return params
    }
}
