/// The fields of an H.264 sequence parameter set (ITU-T H.264 §7.3.2.1.1) that matter to an
/// ingest gateway: profile, level, coded size after cropping, and the VUI frame rate.
struct H264SPS {
    var profileIDC: Int
    var levelIDC: Int
    var width: Int
    var height: Int
    var frameRate: Double?

    /// Profiles whose SPS carries chroma format and bit depth fields.
    private static let highProfiles: Set<UInt32> = [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]

    init(nalUnit: ArraySlice<UInt8>) throws(BitReader.OutOfData) {
        var r = BitReader(nalUnit: nalUnit)
        let nalHeader = try r.bits(8)
        guard nalHeader & 0x1F == 7 else { throw BitReader.OutOfData() }
        let profile = try r.bits(8)
        try r.skip(8) // constraint flags
        levelIDC = Int(try r.bits(8))
        profileIDC = Int(profile)
        _ = try r.ue() // seq_parameter_set_id
        var chromaFormat: UInt32 = 1
        var separateColourPlane = false
        if Self.highProfiles.contains(profile) {
            chromaFormat = try r.ue()
            if chromaFormat == 3 { separateColourPlane = try r.flag() }
            _ = try r.ue() // bit_depth_luma_minus8
            _ = try r.ue() // bit_depth_chroma_minus8
            try r.skip(1) // qpprime_y_zero_transform_bypass_flag
            if try r.flag() { // seq_scaling_matrix_present_flag
                for i in 0..<(chromaFormat != 3 ? 8 : 12) {
                    guard try r.flag() else { continue } // seq_scaling_list_present_flag
                    let size = i < 6 ? 16 : 64
                    var last: Int32 = 8, next: Int32 = 8
                    for _ in 0..<size {
                        if next != 0 { next = (last + (try r.se()) % 256 + 256) % 256 }
                        last = next == 0 ? last : next
                    }
                }
            }
        }
        _ = try r.ue() // log2_max_frame_num_minus4
        let pocType = try r.ue()
        if pocType == 0 {
            _ = try r.ue()
        } else if pocType == 1 {
            try r.skip(1)
            _ = try r.se()
            _ = try r.se()
            let cycle = try r.ue()
            guard cycle < 256 else { throw BitReader.OutOfData() }
            for _ in 0..<cycle { _ = try r.se() }
        }
        _ = try r.ue() // max_num_ref_frames
        try r.skip(1) // gaps_in_frame_num_value_allowed_flag
        let widthInMbs = Int(try r.ue()) + 1
        let heightInMapUnits = Int(try r.ue()) + 1
        let frameMbsOnly = try r.flag()
        if !frameMbsOnly { try r.skip(1) } // mb_adaptive_frame_field_flag
        try r.skip(1) // direct_8x8_inference_flag
        var cropLeft = 0, cropRight = 0, cropTop = 0, cropBottom = 0
        if try r.flag() {
            cropLeft = Int(try r.ue()); cropRight = Int(try r.ue())
            cropTop = Int(try r.ue()); cropBottom = Int(try r.ue())
        }
        let chromaArrayType = separateColourPlane ? 0 : chromaFormat
        let subWidthC = chromaArrayType == 3 ? 1 : 2
        let subHeightC = chromaArrayType == 1 ? 2 : 1
        let cropUnitX = chromaArrayType == 0 ? 1 : subWidthC
        let cropUnitY = (chromaArrayType == 0 ? 1 : subHeightC) * (frameMbsOnly ? 1 : 2)
        width = max(0, widthInMbs * 16 - cropUnitX * (cropLeft + cropRight))
        height = max(0, (frameMbsOnly ? 1 : 2) * heightInMapUnits * 16 - cropUnitY * (cropTop + cropBottom))

        // VUI: only as far as timing info; stop quietly if the SPS ends early.
        frameRate = nil
        guard (try? r.flag()) == true else { return }
        do {
            if try r.flag() { // aspect_ratio_info_present_flag
                if try r.bits(8) == 255 { try r.skip(32) }
            }
            if try r.flag() { try r.skip(1) } // overscan
            if try r.flag() { // video_signal_type_present_flag
                try r.skip(4)
                if try r.flag() { try r.skip(24) }
            }
            if try r.flag() { _ = try r.ue(); _ = try r.ue() } // chroma_loc_info
            if try r.flag() { // timing_info_present_flag
                let unitsInTick = try r.bits(32)
                let timeScale = try r.bits(32)
                if unitsInTick > 0 { frameRate = Double(timeScale) / Double(2 * UInt64(unitsInTick)) }
            }
        } catch {
            return
        }
    }
}
