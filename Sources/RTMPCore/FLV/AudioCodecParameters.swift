import NIOCore

/// What an audio sequence header (or a legacy FLV sound header) says about the stream.
public struct AudioCodecParameters: Sendable, Equatable {
    public var codec: MediaCodec
    public var sampleRate: Int?
    public var channels: Int?
    /// MPEG-4 audio object type (2 = AAC LC, 5 = HE-AAC …).
    public var objectType: Int?
    /// The speaker layout an E-RTMP `MultichannelConfig` gave ("stereo", "5.1", "FL+FR+LFE" …).
    public var channelLayout: String?

    public init(codec: MediaCodec, sampleRate: Int? = nil, channels: Int? = nil, objectType: Int? = nil) {
        self.codec = codec
        self.sampleRate = sampleRate
        self.channels = channels
        self.objectType = objectType
    }

    static let aacSampleRates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350]

    /// What the stream says about itself, codec by codec: AAC's AudioSpecificConfig, Opus's
    /// identification header, FLAC's STREAMINFO (sequence starts); MP3's frame header and
    /// AC-3/E-AC-3's sync frame (coded frames, for codecs with no sequence start); a legacy FLV
    /// sound header otherwise. Pure, bounds-checked: a malformed header gives what it could read.
    public static func parse(_ frame: MediaFrame) -> AudioCodecParameters? {
        let bytes = frame.data.readableBytesView
        switch (frame.codec, frame.packetType) {
        case (.aac, .sequenceHeader): return parseAudioSpecificConfig(Array(bytes))
        case (.opus, .sequenceHeader): return parseOpusHeader(Array(bytes.prefix(32)))
        case (.flac, .sequenceHeader): return parseFLACStreamInfo(Array(bytes.prefix(64)))
        case (.mp3, .codedFrames): if let p = parseMP3FrameHeader(Array(bytes.prefix(4))) { return p }
        case (.ac3, .codedFrames), (.eac3, .codedFrames): if let p = parseAC3SyncFrame(Array(bytes.prefix(16))) { return p }
        // Their sequence start (FFmpeg sends an empty one) says nothing: the first frame will.
        case (.mp3, .sequenceHeader), (.ac3, .sequenceHeader), (.eac3, .sequenceHeader): return nil
        default: break
        }
        if let legacy = frame.legacyAudio {
            return AudioCodecParameters(codec: frame.codec, sampleRate: legacy.sampleRate, channels: legacy.channels)
        }
        return AudioCodecParameters(codec: frame.codec)
    }

    /// ISO/IEC 14496-3 §1.6.2.1, with the explicit rate (index 15) and HE-AAC's SBR/PS
    /// extension (object types 5 and 29: the output rate is the extension's, as decoders report it).
    static func parseAudioSpecificConfig(_ bytes: [UInt8]) -> AudioCodecParameters? {
        var r = BitReader(bytes)
        do {
            func rate() throws(BitReader.OutOfData) -> Int? {
                let index = Int(try r.bits(4))
                return index == 15 ? Int(try r.bits(24)) : (index < aacSampleRates.count ? aacSampleRates[index] : nil)
            }
            var objectType = Int(try r.bits(5))
            if objectType == 31 { objectType = 32 + Int(try r.bits(6)) }
            var sampleRate = try rate()
            let channelConfig = Int(try r.bits(4))
            var channels = channelConfig == 7 ? 8 : (channelConfig >= 11 ? [7, 8, 24, 8, 8][min(channelConfig - 11, 4)] : channelConfig)
            if objectType == 5 || objectType == 29 {
                if let extended = try? rate() { sampleRate = extended }
                if objectType == 29 && channels == 1 { channels = 2 } // parametric stereo
            }
            return AudioCodecParameters(codec: .aac, sampleRate: sampleRate, channels: channels, objectType: objectType)
        } catch {
            return nil
        }
    }

    /// Opus: the identification header (RFC 7845 §5.1, "OpusHead", little-endian) as FFmpeg
    /// sends it, or the MP4 `dOps` box body (big-endian). Opus always decodes at 48 kHz; the
    /// channel count is the header's.
    static func parseOpusHeader(_ b: [UInt8]) -> AudioCodecParameters {
        if b.count >= 19, Array(b[0..<8]) == Array("OpusHead".utf8) {
            return AudioCodecParameters(codec: .opus, sampleRate: 48000, channels: Int(b[9]))
        }
        if b.count >= 11, b[0] == 0 {
            return AudioCodecParameters(codec: .opus, sampleRate: 48000, channels: Int(b[1]))
        }
        return AudioCodecParameters(codec: .opus, sampleRate: 48000)
    }

    /// FLAC: STREAMINFO (RFC 9639 §8.2), alone (34 bytes), after its metadata block header, or
    /// after the `fLaC` marker and the block header.
    static func parseFLACStreamInfo(_ b: [UInt8]) -> AudioCodecParameters {
        var start = 0
        if b.count >= 4, Array(b[0..<4]) == Array("fLaC".utf8) { start = 8 } else if b.count >= 38, b[0] & 0x7F == 0, b[1] == 0, b[2] == 0, b[3] == 34 { start = 4 }
        guard b.count >= start + 18 else { return AudioCodecParameters(codec: .flac) }
        let s = start + 10 // after min/max block size (2 + 2) and min/max frame size (3 + 3)
        let rate = Int(b[s]) << 12 | Int(b[s + 1]) << 4 | Int(b[s + 2]) >> 4
        let channels = Int((b[s + 2] >> 1) & 0x07) + 1
        return AudioCodecParameters(codec: .flac, sampleRate: rate > 0 ? rate : nil, channels: channels)
    }

    /// MPEG audio frame header (ISO/IEC 11172-3 §2.4.2.3; MPEG-2 and 2.5 halve and quarter the rates).
    static func parseMP3FrameHeader(_ b: [UInt8]) -> AudioCodecParameters? {
        guard b.count >= 4, b[0] == 0xFF, b[1] & 0xE0 == 0xE0 else { return nil }
        let version = (b[1] >> 3) & 0x03, layer = (b[1] >> 1) & 0x03, rateIndex = Int((b[2] >> 2) & 0x03)
        guard version != 1, layer != 0, rateIndex < 3 else { return nil }
        let base = [44100, 48000, 32000][rateIndex]
        let rate = version == 3 ? base : (version == 2 ? base / 2 : base / 4)
        return AudioCodecParameters(codec: .mp3, sampleRate: rate, channels: (b[3] >> 6) == 3 ? 1 : 2)
    }

    /// AC-3 (ATSC A/52 §5.3: syncinfo, bsi) and E-AC-3 (Annex E §E.1.2.1: bsid 11–16):
    /// sample rate from fscod (and fscod2), channels from acmod plus the LFE.
    static func parseAC3SyncFrame(_ b: [UInt8]) -> AudioCodecParameters? {
        guard b.count >= 8, b[0] == 0x0B, b[1] == 0x77 else { return nil }
        let acmodChannels = [2, 1, 2, 3, 3, 4, 4, 5]
        let bsid = b[5] >> 3
        var r = BitReader(b)
        do {
            if bsid <= 10 {
                try r.skip(32) // syncword, crc1
                let fscod = Int(try r.bits(2))
                try r.skip(6) // frmsizecod
                try r.skip(8) // bsid, bsmod
                let acmod = Int(try r.bits(3))
                if acmod & 1 != 0 && acmod != 1 { try r.skip(2) } // cmixlev
                if acmod & 4 != 0 { try r.skip(2) } // surmixlev
                if acmod == 2 { try r.skip(2) } // dsurmod
                let lfe = try r.flag()
                guard fscod < 3 else { return nil }
                return AudioCodecParameters(codec: .ac3, sampleRate: [48000, 44100, 32000][fscod], channels: acmodChannels[acmod] + (lfe ? 1 : 0))
            }
            guard bsid <= 16 else { return nil }
            try r.skip(16) // syncword
            try r.skip(2 + 3 + 11) // strmtyp, substreamid, frmsiz
            let fscod = Int(try r.bits(2))
            let rate: Int
            if fscod == 3 {
                let fscod2 = Int(try r.bits(2))
                guard fscod2 < 3 else { return nil }
                rate = [24000, 22050, 16000][fscod2]
            } else {
                try r.skip(2) // numblkscod
                rate = [48000, 44100, 32000][fscod]
            }
            let acmod = Int(try r.bits(3))
            let lfe = try r.flag()
            return AudioCodecParameters(codec: .eac3, sampleRate: rate, channels: acmodChannels[acmod] + (lfe ? 1 : 0))
        } catch {
            return nil
        }
    }
}
