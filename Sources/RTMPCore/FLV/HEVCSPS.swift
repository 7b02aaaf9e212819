/// The fields of an H.265 sequence parameter set (ITU-T H.265 §7.3.2.2.1) that matter to an
/// ingest gateway: profile, tier and level, chroma format, the picture size after its
/// conformance window, and bit depths. Parsing stops there: the frame rate, when the VUI
/// carries it, lies past fields whose lengths depend on the rest of the SPS; the gateway
/// measures it from the timestamps instead.
struct HEVCSPS: Equatable {
    var profileIDC: Int
    var tierFlag: Bool
    var levelIDC: Int
    var chromaFormatIDC: Int
    var width: Int
    var height: Int
    var bitDepthLuma: Int
    var bitDepthChroma: Int

    /// `nalUnit`: the SPS NAL unit with its two-byte header (`nal_unit_type` 33).
    init(nalUnit: some Collection<UInt8>) throws(BitReader.OutOfData) {
        var r = BitReader(nalUnit: nalUnit)
        let header = try r.bits(16)
        guard (header >> 9) & 0x3F == 33 else { throw BitReader.OutOfData() }
        try r.skip(4) // sps_video_parameter_set_id
        let maxSubLayersMinus1 = Int(try r.bits(3))
        try r.skip(1) // sps_temporal_id_nesting_flag
        // profile_tier_level(1, sps_max_sub_layers_minus1), §7.3.3
        try r.skip(2) // general_profile_space
        tierFlag = try r.flag()
        profileIDC = Int(try r.bits(5))
        try r.skip(32) // general_profile_compatibility_flag[32]
        try r.skip(48) // progressive, interlaced, non-packed, frame-only, 43 reserved/constraint bits, inbld/reserved
        levelIDC = Int(try r.bits(8))
        var profilePresent: [Bool] = [], levelPresent: [Bool] = []
        for _ in 0..<maxSubLayersMinus1 {
            profilePresent.append(try r.flag())
            levelPresent.append(try r.flag())
        }
        if maxSubLayersMinus1 > 0 { try r.skip(2 * (8 - maxSubLayersMinus1)) } // reserved_zero_2bits
        for i in 0..<maxSubLayersMinus1 {
            if profilePresent[i] { try r.skip(88) }
            if levelPresent[i] { try r.skip(8) }
        }
        _ = try r.ue() // sps_seq_parameter_set_id
        let chroma = try r.ue()
        guard chroma <= 3 else { throw BitReader.OutOfData() }
        chromaFormatIDC = Int(chroma)
        var separateColourPlane = false
        if chroma == 3 { separateColourPlane = try r.flag() }
        let lumaWidth = Int(try r.ue()), lumaHeight = Int(try r.ue())
        guard lumaWidth > 0, lumaHeight > 0, lumaWidth <= 65_536, lumaHeight <= 65_536 else { throw BitReader.OutOfData() }
        var left = 0, right = 0, top = 0, bottom = 0
        if try r.flag() { // conformance_window_flag
            left = Int(try r.ue()); right = Int(try r.ue()); top = Int(try r.ue()); bottom = Int(try r.ue())
        }
        // Table 6-1: the window's offsets are in chroma samples.
        let chromaArrayType = separateColourPlane ? 0 : chroma
        let subWidthC = chromaArrayType == 1 || chromaArrayType == 2 ? 2 : 1
        let subHeightC = chromaArrayType == 1 ? 2 : 1
        width = max(0, lumaWidth - subWidthC * (left + right))
        height = max(0, lumaHeight - subHeightC * (top + bottom))
        bitDepthLuma = Int(try r.ue()) + 8
        bitDepthChroma = Int(try r.ue()) + 8
    }

    /// The SPS NAL unit of an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 §8.3.3.1):
    /// a 22-byte header, `numOfArrays`, then per array its NAL type and its NAL units.
    static func spsNAL(inHVCC b: [UInt8]) -> ArraySlice<UInt8>? {
        guard b.count >= 23, b[0] == 1 else { return nil }
        var at = 23
        for _ in 0..<Int(b[22]) {
            guard at + 3 <= b.count else { return nil }
            let type = b[at] & 0x3F
            let count = Int(b[at + 1]) << 8 | Int(b[at + 2])
            at += 3
            for _ in 0..<count {
                guard at + 2 <= b.count else { return nil }
                let length = Int(b[at]) << 8 | Int(b[at + 1])
                at += 2
                guard at + length <= b.count else { return nil }
                if type == 33 && length > 2 { return b[at..<(at + length)] }
                at += length
            }
        }
        return nil
    }
}
