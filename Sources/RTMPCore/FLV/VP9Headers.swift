/// What a VP9 stream says about itself. The sequence start Enhanced RTMP sends for VP9 is a
/// VPCodecConfigurationRecord (VP Codec ISO Media File Format Binding §2.2: profile, level,
/// bit depth, chroma subsampling) — it has no picture size; that is in each keyframe's
/// uncompressed header (VP9 Bitstream Specification §6.2: frame marker, profile, frame type,
/// sync code, colour config, `frame_width_minus_1`, `frame_height_minus_1`).
enum VP9Headers {
    struct Configuration: Equatable {
        var profile: Int
        var level: Int
        var bitDepth: Int
        /// 0, 1: 4:2:0; 2: 4:2:2; 3: 4:4:4.
        var chromaSubsampling: Int
    }

    /// `vpcC` (version 1): version, 24 bits of flags, then the fields.
    static func configuration(_ b: [UInt8]) -> Configuration? {
        guard b.count >= 8, b[0] == 1 else { return nil }
        return Configuration(profile: Int(b[4]), level: Int(b[5]), bitDepth: Int(b[6] >> 4), chromaSubsampling: Int((b[6] >> 1) & 0x07))
    }

    /// The size a VP9 keyframe codes, from its uncompressed header; nil for an inter frame, a
    /// `show_existing_frame`, or a header that is not VP9's. A superframe's first frame is read
    /// (its index is at the end; the frames start at the beginning).
    static func keyframeSize(_ b: some Collection<UInt8>) -> (width: Int, height: Int, bitDepth: Int)? {
        var r = BitReader(Array(b.prefix(32)))
        do {
            guard try r.bits(2) == 2 else { return nil } // frame_marker
            let low = try r.bits(1), high = try r.bits(1)
            let profile = Int(high << 1 | low)
            if profile == 3 { try r.skip(1) }
            if try r.flag() { return nil } // show_existing_frame
            guard try r.bits(1) == 0 else { return nil } // frame_type: KEY_FRAME
            try r.skip(2) // show_frame, error_resilient_mode
            guard try r.bits(24) == 0x49_83_42 else { return nil } // frame_sync_code
            var bitDepth = 8
            if profile >= 2 { bitDepth = try r.flag() ? 12 : 10 }
            let colorSpace = try r.bits(3)
            if colorSpace != 7 { // CS_RGB
                try r.skip(1) // color_range
                if profile == 1 || profile == 3 { try r.skip(3) } // subsampling_x, subsampling_y, reserved_zero
            } else if profile == 1 || profile == 3 {
                try r.skip(1) // reserved_zero
            }
            let width = Int(try r.bits(16)) + 1, height = Int(try r.bits(16)) + 1
            return (width, height, bitDepth)
        } catch {
            return nil
        }
    }
}
