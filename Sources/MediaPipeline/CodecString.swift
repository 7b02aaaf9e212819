import RTMPCore

/// The `CODECS` attribute of an HLS variant (RFC 6381 and the codec bindings it points to),
/// built from the track's configuration record as the publisher sent it — players pick a
/// variant by it, so it must describe the stream exactly, not a default.
enum CodecString {
    static func of(_ track: TrackFormat) -> String? {
        let b = track.extradata
        switch track.codec {
        case .h264:
            // AVCDecoderConfigurationRecord: profile_idc, constraint flags, level_idc.
            guard b.count >= 4, b[0] == 1 else { return nil }
            return "avc1." + hex(b[1]) + hex(b[2]) + hex(b[3])
        case .hevc:
            return hevc(b)
        case .av1:
            // av1C: seq_profile, seq_level_idx_0, seq_tier_0, bit depth (ISO/AV1 binding §5).
            guard b.count >= 3, b[0] == 0x81 else { return nil }
            let profile = Int(b[1] >> 5), level = Int(b[1] & 0x1F), tier = b[2] >> 7
            let high = b[2] & 0x40 != 0, twelve = b[2] & 0x20 != 0
            let depth = profile == 2 && high ? (twelve ? 12 : 10) : (high ? 10 : 8)
            return "av01.\(profile).\(two(level))\(tier == 0 ? "M" : "H").\(two(depth))"
        case .vp9:
            // VP codec ISO binding: vp09.PP.LL.DD.
            guard let profile = track.profile, let level = track.level else { return nil }
            return "vp09.\(two(profile)).\(two(level)).\(two(track.bitDepth ?? 8))"
        case .aac:
            // The audio object type from the AudioSpecificConfig (2 LC, 5 HE, 29 HE v2).
            guard let first = b.first else { return "mp4a.40.2" }
            var objectType = Int(first >> 3)
            if objectType == 31, b.count >= 2 { objectType = 32 + Int((first & 0x07) << 3 | b[1] >> 5) }
            return "mp4a.40.\(objectType)"
        case .mp3: return "mp4a.40.34"
        case .opus: return "opus"
        case .flac: return "fLaC"
        case .ac3: return "ac-3"
        case .eac3: return "ec-3"
        default: return nil
        }
    }

    /// ISO/IEC 14496-15 Annex E.3: hvc1.[space]profile.compat(bit-reversed hex).tierLevel.constraints.
    private static func hevc(_ b: [UInt8]) -> String? {
        guard b.count >= 13, b[0] == 1 else { return nil }
        let space = ["", "A", "B", "C"][Int(b[1] >> 6)]
        let tier = b[1] & 0x20 != 0 ? "H" : "L"
        let profile = Int(b[1] & 0x1F)
        let flags = UInt32(b[2]) << 24 | UInt32(b[3]) << 16 | UInt32(b[4]) << 8 | UInt32(b[5])
        var reversed: UInt32 = 0
        for i in 0..<32 where flags & (1 << UInt32(i)) != 0 { reversed |= 1 << UInt32(31 - i) }
        var constraints = Array(b[6..<12])
        while let last = constraints.last, last == 0 { constraints.removeLast() }
        var s = "hvc1.\(space)\(profile).\(String(reversed, radix: 16, uppercase: true)).\(tier)\(b[12])"
        for c in constraints { s += "." + String(c, radix: 16, uppercase: true) }
        return s
    }

    private static func hex(_ b: UInt8) -> String { (b < 16 ? "0" : "") + String(b, radix: 16) }
    private static func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
}
