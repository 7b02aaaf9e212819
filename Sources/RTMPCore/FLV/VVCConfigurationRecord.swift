/// VVC's `VvcDecoderConfigurationRecord` (ISO/IEC 14496-15 §11.2.4.2), which Enhanced RTMP v2
/// sends as the `vvc1` sequence start: when its `ptl_present_flag` is set it carries the chroma
/// format, bit depth, the profile/tier/level record and the maximum picture size and average
/// frame rate — everything `/stats` shows, without reading the SPS. Pure and bounds-checked
/// (every read can run out: nil). No VVC encoder is at hand here, so its tests build records
/// from the specification's syntax.
struct VVCConfigurationRecord: Equatable {
    var profile: Int
    var tierHigh: Bool
    var level: Int
    var chromaFormatIDC: Int
    var bitDepth: Int
    var width: Int
    var height: Int
    /// `avg_frame_rate` in frames per 256 seconds; 0 = unspecified.
    var averageFrameRate256: Int

    init?(_ bytes: [UInt8]) {
        var r = BitReader(bytes)
        do throws(BitReader.OutOfData) {
            guard try r.bits(5) == 0x1F else { return nil }
            _ = try r.bits(2) // LengthSizeMinusOne
            guard try r.flag() else { return nil } // no PTL: nothing to measure here
            _ = try r.bits(9) // ols_idx
            let sublayers = Int(try r.bits(3))
            _ = try r.bits(2) // constant_frame_rate
            chromaFormatIDC = Int(try r.bits(2))
            bitDepth = Int(try r.bits(3)) + 8
            _ = try r.bits(5) // reserved
            // VvcPTLRecord(num_sublayers)
            _ = try r.bits(2)
            let constraintBytes = Int(try r.bits(6))
            profile = Int(try r.bits(7))
            tierHigh = try r.flag()
            level = Int(try r.bits(8))
            // ptl_frame_only_constraint_flag, ptl_multi_layer_enabled_flag and the rest of
            // general_constraint_info: 8 × num_bytes_constraint_info bits in all.
            try r.skip(constraintBytes * 8)
            var present: [Bool] = []
            if sublayers > 1 {
                // One flag per sub-layer below the top (highest first), padded to a byte.
                for _ in 0..<(sublayers - 1) { present.append(try r.flag()) }
                try r.skip(9 - sublayers)
            }
            for flag in present where flag { _ = try r.bits(8) } // sublayer_level_idc
            let subProfiles = Int(try r.bits(8))
            try r.skip(subProfiles * 32)
            width = Int(try r.bits(16))
            height = Int(try r.bits(16))
            averageFrameRate256 = Int(try r.bits(16))
        } catch {
            return nil
        }
    }
}

extension VideoCodecParameters {
    static func parseVVCDecoderConfigurationRecord(_ bytes: [UInt8]) -> VideoCodecParameters? {
        guard let record = VVCConfigurationRecord(bytes) else { return VideoCodecParameters(codec: .vvc) }
        return VideoCodecParameters(codec: .vvc, profile: record.profile, level: record.level,
                                    width: record.width > 0 ? record.width : nil, height: record.height > 0 ? record.height : nil,
                                    frameRate: record.averageFrameRate256 > 0 ? Double(record.averageFrameRate256) / 256 : nil,
                                    bitDepth: record.bitDepth, chromaFormat: chromaName(record.chromaFormatIDC))
    }
}
