/// How a track's payload is laid out for an MPEG-TS segment, done by us while copying the
/// payload into the packet libavformat gets (docs/architecture.md "Output threads").
///
/// MPEG-TS carries H.264 as an Annex B byte stream (start codes, an access unit delimiter first,
/// the parameter sets in band before a keyframe) and AAC in ADTS frames; RTMP delivers H.264 as
/// length-prefixed NAL units (AVCC) and AAC raw. Left to libavformat, each video packet goes
/// through the `h264_mp4toannexb` bitstream filter (a new buffer and a copy) and then gets its
/// AUD by a second new buffer and copy inside the MPEG-TS muxer, and each AAC packet is written
/// through a nested ADTS muxer into a dynamic buffer (several allocations and a copy). Laid
/// out here, in the one copy `MediaMuxer` makes anyway, the muxer finds nothing to convert: no
/// filter is attached (it attaches one only to a stream whose first packet lacks a start code)
/// and packets that begin with an AUD or an ADTS sync word pass straight to the PES writer.
/// Tracks it cannot lay out (an AAC profile ADTS cannot name, a sample rate without an index,
/// HEVC) stay as received, for libavformat to convert as before.
enum MPEGTSFraming: Sendable, Equatable {
    case annexB(AnnexB)
    case adts(ADTS)

    /// The framing for `track`, or nil when libavformat should convert it.
    init?(_ track: TrackFormat) {
        switch track.codec {
        case .h264:
            guard let annexB = AnnexB(avcDecoderConfigurationRecord: track.extradata) else { return nil }
            self = .annexB(annexB)
        case .aac:
            guard let adts = ADTS(audioSpecificConfig: track.extradata) else { return nil }
            self = .adts(adts)
        default:
            return nil
        }
    }

    /// What one payload becomes: worked out once (one pass over the NAL units), then written.
    enum Layout: Equatable {
        case annexB(AnnexB.Plan)
        case adts(frameLength: Int)

        var size: Int {
            switch self {
            case .annexB(let plan): plan.size
            case .adts(let length): length
            }
        }
    }

    /// The layout of `payload`, or nil when the payload is malformed (a NAL unit length running
    /// past the end, no NAL unit at all, an AAC frame too long for ADTS): such a packet is not
    /// written (libavformat's filter would have failed the whole output on it).
    func layout(_ payload: UnsafeRawBufferPointer, isKeyframe: Bool) -> Layout? {
        switch self {
        case .annexB(let a): a.plan(payload, isKeyframe: isKeyframe).map(Layout.annexB)
        case .adts(let a): a.frameLength(payload.count).map { Layout.adts(frameLength: $0) }
        }
    }

    /// Writes `payload` laid out as `layout` (from `layout(_:isKeyframe:)` on the same payload:
    /// `layout.size` bytes) to `out`.
    func write(_ payload: UnsafeRawBufferPointer, layout: Layout, to out: UnsafeMutableRawPointer) {
        switch (self, layout) {
        case (.annexB(let a), .annexB(let plan)):
            a.write(payload, plan: plan, to: out)
        case (.adts(let a), .adts(let length)):
            a.writeHeader(frameLength: length, to: out)
            if payload.count > 0 { (out + ADTS.headerSize).copyMemory(from: payload.baseAddress!, byteCount: payload.count) }
        default:
            preconditionFailure("a layout written by another framing")
        }
    }

    /// H.264 from AVCC (ISO/IEC 14496-15) to an Annex B byte stream (ITU-T H.264 Annex B).
    struct AnnexB: Sendable, Equatable {
        /// Bytes of each NAL unit's length prefix (`lengthSizeMinusOne + 1`: 1, 2 or 4).
        let lengthSize: Int
        /// Every SPS then every PPS of the record, each after a four-byte start code.
        let parameterSets: [UInt8]

        static let startCode: [UInt8] = [0, 0, 0, 1]
        /// An access unit delimiter (nal_unit_type 9) saying any slice type may follow.
        static let accessUnitDelimiter: [UInt8] = [0, 0, 0, 1, 0x09, 0xF0]

        /// Reads an AVCDecoderConfigurationRecord; nil if it is not one.
        init?(avcDecoderConfigurationRecord r: [UInt8]) {
            guard r.count >= 7, r[0] == 1 else { return nil }
            let lengthSize = Int(r[4] & 0x03) + 1
            guard lengthSize != 3 else { return nil }
            var sets: [UInt8] = []
            var i = 5
            for group in 0..<2 {
                guard i < r.count else { return nil }
                let count = group == 0 ? Int(r[i] & 0x1F) : Int(r[i])
                i += 1
                for _ in 0..<count {
                    guard i + 2 <= r.count else { return nil }
                    let length = Int(r[i]) << 8 | Int(r[i + 1])
                    i += 2
                    guard length > 0, i + length <= r.count else { return nil }
                    sets += Self.startCode + r[i..<(i + length)]
                    i += length
                }
            }
            guard !sets.isEmpty else { return nil }
            self.lengthSize = lengthSize
            self.parameterSets = sets
        }

        struct Plan: Equatable {
            var nalUnits = 0
            var payloadBytes = 0
            /// The first NAL unit is not an AUD: one is written first.
            var addsDelimiter = false
            /// A keyframe without its own SPS and PPS: the record's go after the AUD.
            var addsParameterSets = false
            var size = 0
        }

        /// One pass over the NAL units; nil when a length prefix runs past the payload.
        func plan(_ payload: UnsafeRawBufferPointer, isKeyframe: Bool) -> Plan? {
            var plan = Plan()
            var i = 0
            var hasSPS = false, hasPPS = false, hasIDR = false
            while i < payload.count {
                guard i + lengthSize <= payload.count else { return nil }
                var length = 0
                for k in 0..<lengthSize { length = length << 8 | Int(payload[i + k]) }
                i += lengthSize
                guard length <= payload.count - i else { return nil }
                if length > 0 {
                    let type = payload[i] & 0x1F
                    if plan.nalUnits == 0 && type != 9 { plan.addsDelimiter = true }
                    switch type {
                    case 5: hasIDR = true
                    case 7: hasSPS = true
                    case 8: hasPPS = true
                    default: break
                    }
                    plan.nalUnits += 1
                    plan.payloadBytes += length
                }
                i += length
            }
            guard plan.nalUnits > 0 else { return nil }
            plan.addsParameterSets = (hasIDR || isKeyframe) && !(hasSPS && hasPPS)
            plan.size = (plan.addsDelimiter ? Self.accessUnitDelimiter.count : 0) + (plan.addsParameterSets ? parameterSets.count : 0)
                + plan.nalUnits * Self.startCode.count + plan.payloadBytes
            return plan
        }

        func write(_ payload: UnsafeRawBufferPointer, plan: Plan, to out: UnsafeMutableRawPointer) {
            var o = 0
            var first = true
            var i = 0
            if plan.addsDelimiter {
                o = Self.put(Self.accessUnitDelimiter, out, o)
                if plan.addsParameterSets { o = Self.put(parameterSets, out, o) }
                first = false
            }
            while i < payload.count {
                var length = 0
                for k in 0..<lengthSize { length = length << 8 | Int(payload[i + k]) }
                i += lengthSize
                if length > 0 {
                    o = Self.put(Self.startCode, out, o)
                    (out + o).copyMemory(from: payload.baseAddress! + i, byteCount: length)
                    o += length
                    // The publisher's own AUD comes first; the parameter sets follow it.
                    if first && plan.addsParameterSets { o = Self.put(parameterSets, out, o) }
                    first = false
                }
                i += length
            }
        }

        /// Copies `bytes` to `out + offset`; returns the offset after them.
        private static func put(_ bytes: [UInt8], _ out: UnsafeMutableRawPointer, _ offset: Int) -> Int {
            bytes.withUnsafeBytes { (out + offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            return offset + bytes.count
        }
    }

    /// AAC in ADTS frames (ISO/IEC 13818-7 / 14496-3 §1.A.2), from the AudioSpecificConfig.
    struct ADTS: Sendable, Equatable {
        static let headerSize = 7
        /// ADTS `profile`: the audio object type minus one (Main, LC, SSR, LTP only).
        let profile: UInt8
        let samplingFrequencyIndex: UInt8
        let channelConfiguration: UInt8

        /// nil when ADTS cannot say it: another object type (HE-AAC signalled explicitly,
        /// escape values), a sample rate given explicitly, channels given by a PCE.
        init?(audioSpecificConfig c: [UInt8]) {
            guard c.count >= 2 else { return nil }
            let objectType = c[0] >> 3
            let frequencyIndex = (c[0] & 0x07) << 1 | c[1] >> 7
            let channels = (c[1] >> 3) & 0x0F
            guard (1...4).contains(objectType), frequencyIndex < 13, (1...7).contains(channels) else { return nil }
            profile = objectType - 1
            samplingFrequencyIndex = frequencyIndex
            channelConfiguration = channels
        }

        /// Header plus payload; nil past ADTS's 13-bit frame length.
        func frameLength(_ payloadBytes: Int) -> Int? {
            let length = Self.headerSize + payloadBytes
            return length < 1 << 13 ? length : nil
        }

        /// syncword 0xFFF, MPEG-4, layer 0, no CRC; one raw data block; buffer fullness 0x7FF (VBR).
        func writeHeader(frameLength: Int, to out: UnsafeMutableRawPointer) {
            let h = out.assumingMemoryBound(to: UInt8.self)
            h[0] = 0xFF
            h[1] = 0xF1
            h[2] = profile << 6 | samplingFrequencyIndex << 2 | channelConfiguration >> 2
            h[3] = (channelConfiguration & 0x03) << 6 | UInt8(truncatingIfNeeded: frameLength >> 11)
            h[4] = UInt8(truncatingIfNeeded: frameLength >> 3)
            h[5] = UInt8(truncatingIfNeeded: frameLength & 0x07) << 5 | 0x1F
            h[6] = 0xFC
        }
    }
}
