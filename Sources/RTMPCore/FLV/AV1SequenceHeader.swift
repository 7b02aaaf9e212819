/// What an AV1 stream says about itself (AV1 bitstream specification §5.5, and the
/// AV1CodecConfigurationRecord of the "AV1 Codec ISO Media File Format Binding" §2.3, which
/// Enhanced RTMP sends as the sequence start): profile, level, tier, bit depth and chroma
/// subsampling from the record's fixed fields, the maximum frame size and — when the encoder
/// put it there — the frame rate from the sequence header OBU.
struct AV1SequenceHeader: Equatable {
    var profile: Int
    var level: Int
    var tier: Int
    var bitDepth: Int
    var monochrome: Bool
    var subsamplingX: Bool
    var subsamplingY: Bool
    var width: Int?
    var height: Int?
    var frameRate: Double?

    /// `record`: an `av1C` (marker bit set, version 1), then its configOBUs.
    init?(configurationRecord b: [UInt8]) {
        guard b.count >= 4, b[0] == 0x81 else { return nil }
        profile = Int(b[1] >> 5)
        level = Int(b[1] & 0x1F)
        tier = Int(b[2] >> 7)
        let high = b[2] & 0x40 != 0, twelve = b[2] & 0x20 != 0
        bitDepth = profile == 2 && high ? (twelve ? 12 : 10) : (high ? 10 : 8)
        monochrome = b[2] & 0x10 != 0
        subsamplingX = b[2] & 0x08 != 0
        subsamplingY = b[2] & 0x04 != 0
        if let sequence = Self.sequenceHeaderOBU(in: b[4...]), let size = try? Self.frameSize(sequenceHeader: sequence) {
            (width, height, frameRate) = size
        }
    }

    /// The payload of the first sequence header OBU (`obu_type` 1) in a run of OBUs, each with
    /// its size field (§5.3); nil when there is none, or the run is malformed.
    static func sequenceHeaderOBU(in obus: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        var at = obus.startIndex
        while at < obus.endIndex {
            let header = obus[at]
            guard header & 0x80 == 0 else { return nil } // obu_forbidden_bit
            let type = (header >> 3) & 0x0F
            let hasExtension = header & 0x04 != 0, hasSize = header & 0x02 != 0
            at += hasExtension ? 2 : 1
            guard at <= obus.endIndex else { return nil }
            var size = obus.endIndex - at
            if hasSize {
                guard let (value, length) = leb128(obus[at...]) else { return nil }
                at += length
                guard value <= UInt64(obus.endIndex - at) else { return nil }
                size = Int(value)
            }
            if type == 1 { return obus[at..<(at + size)] }
            at += size
            if !hasSize { return nil }
        }
        return nil
    }

    /// Unsigned LEB128 (§4.10.5): at most 8 bytes; the value and the bytes read.
    static func leb128(_ bytes: ArraySlice<UInt8>) -> (UInt64, Int)? {
        var value: UInt64 = 0
        for (i, byte) in bytes.prefix(8).enumerated() {
            value |= UInt64(byte & 0x7F) << (7 * i)
            if byte & 0x80 == 0 { return (value, i + 1) }
        }
        return nil
    }

    /// sequence_header_obu() (§5.5.1) as far as max_frame_width/height_minus_1.
    static func frameSize(sequenceHeader: ArraySlice<UInt8>) throws(BitReader.OutOfData) -> (Int, Int, Double?) {
        var r = BitReader(Array(sequenceHeader))
        try r.skip(3) // seq_profile
        try r.skip(1) // still_picture
        let reduced = try r.flag()
        var frameRate: Double?
        if reduced {
            try r.skip(5) // seq_level_idx[0]
        } else {
            let timingInfo = try r.flag()
            var decoderModelInfo = false
            var bufferDelayLength = 0
            if timingInfo {
                let unitsInTick = try r.bits(32), timeScale = try r.bits(32)
                if unitsInTick > 0 { frameRate = Double(timeScale) / Double(unitsInTick) }
                if try r.flag() { // equal_picture_interval
                    var zeros = 0 // uvlc() num_ticks_per_picture_minus_1
                    while try r.bits(1) == 0 { zeros += 1; guard zeros < 32 else { throw BitReader.OutOfData() } }
                    let ticks = zeros > 0 ? (UInt64(1) << zeros) - 1 + UInt64(try r.bits(zeros)) : 0
                    if let rate = frameRate { frameRate = rate / Double(ticks + 1) }
                }
                decoderModelInfo = try r.flag()
                if decoderModelInfo {
                    bufferDelayLength = Int(try r.bits(5)) + 1
                    try r.skip(32) // num_units_in_decoding_tick
                    try r.skip(10) // buffer_removal_time_length_minus_1, frame_presentation_time_length_minus_1
                }
            }
            let initialDisplayDelay = try r.flag()
            let operatingPoints = Int(try r.bits(5)) + 1
            for _ in 0..<operatingPoints {
                try r.skip(12) // operating_point_idc
                if try r.bits(5) > 7 { try r.skip(1) } // seq_level_idx, seq_tier
                if decoderModelInfo, try r.flag() { try r.skip(2 * bufferDelayLength + 1) }
                if initialDisplayDelay, try r.flag() { try r.skip(4) }
            }
        }
        let widthBits = Int(try r.bits(4)) + 1, heightBits = Int(try r.bits(4)) + 1
        let width = Int(try r.bits(widthBits)) + 1, height = Int(try r.bits(heightBits)) + 1
        return (width, height, frameRate)
    }
}
