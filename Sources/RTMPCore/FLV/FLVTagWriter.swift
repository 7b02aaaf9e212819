import NIOCore

/// The inverse of `FLVTagParser`: FLV audio/video tag bodies (RTMP message payloads) for
/// LiveGate's Enhanced-RTMP forwards (docs/contract.md §3). Track 0 of H.264 and AAC (and MP3)
/// goes in the classic form every server reads; every other codec as an E-RTMP FourCC packet;
/// every track other than 0 as a `Multitrack`/`OneTrack` packet with its track id — the shape
/// OBS's Enhanced Broadcasting and FFmpeg 8 send. Pure: bytes in, bytes out.
public enum FLVTagWriter {
    /// The E-RTMP FourCC of a codec; nil for codecs E-RTMP has no FourCC for.
    public static func fourCC(_ codec: MediaCodec) -> [UInt8]? {
        switch codec {
        case .h264: Array("avc1".utf8)
        case .hevc: Array("hvc1".utf8)
        case .av1: Array("av01".utf8)
        case .vp9: Array("vp09".utf8)
        case .vp8: Array("vp08".utf8)
        case .vvc: Array("vvc1".utf8)
        case .aac: Array("mp4a".utf8)
        case .opus: Array("Opus".utf8)
        case .flac: Array("fLaC".utf8)
        case .ac3: Array("ac-3".utf8)
        case .eac3: Array("ec-3".utf8)
        case .mp3: Array(".mp3".utf8)
        default: nil
        }
    }

    /// A video sequence start (the configuration record as the publisher sent it).
    public static func videoSequenceStart(codec: MediaCodec, trackId: UInt8, record: [UInt8]) -> ByteBuffer? {
        video(codec: codec, trackId: trackId, keyframe: true, packetType: 0, cts: 0, payload: ByteBuffer(bytes: record))
    }

    /// A coded video frame; `cts` is pts − dts in milliseconds.
    public static func videoFrame(codec: MediaCodec, trackId: UInt8, keyframe: Bool, cts: Int32, data: ByteBuffer) -> ByteBuffer? {
        let carriesCTS = codec == .h264 || codec == .hevc || codec == .vvc
        return video(codec: codec, trackId: trackId, keyframe: keyframe, packetType: carriesCTS && cts != 0 ? 1 : 3, cts: cts, payload: data)
    }

    private static func video(codec: MediaCodec, trackId: UInt8, keyframe: Bool, packetType: UInt8, cts: Int32, payload: ByteBuffer) -> ByteBuffer? {
        var out = ByteBuffer()
        out.reserveCapacity(payload.readableBytes + 12)
        let frameType: UInt8 = keyframe ? 1 : 2
        if codec == .h264 && trackId == 0 {
            // Classic AVC: AVCPacketType 0 (sequence header) or 1 (NALUs), always with a CTS.
            out.writeInteger(frameType << 4 | 7)
            out.writeInteger(UInt8(packetType == 0 ? 0 : 1))
            writeSInt24(cts, &out)
        } else {
            guard let tag = fourCC(codec) else { return nil }
            if trackId == 0 {
                out.writeInteger(0x80 | frameType << 4 | packetType)
                out.writeBytes(tag)
            } else {
                out.writeInteger(0x80 | frameType << 4 | 6) // Multitrack
                out.writeInteger(packetType)                // OneTrack (0) << 4 | packet type
                out.writeBytes(tag)
                out.writeInteger(trackId)
            }
            if packetType == 1 { writeSInt24(cts, &out) }
        }
        var body = payload
        out.writeBuffer(&body)
        return out
    }

    /// An audio sequence start; nil for codecs that have none (MP3, AC-3, E-AC-3: their frames
    /// say everything). FLAC's is `fLaC` + a STREAMINFO block, as E-RTMP describes it.
    public static func audioSequenceStart(codec: MediaCodec, trackId: UInt8, header: [UInt8]) -> ByteBuffer? {
        switch codec {
        case .aac, .opus: return audio(codec: codec, trackId: trackId, packetType: 0, payload: ByteBuffer(bytes: header))
        case .flac:
            var streamInfo = header
            if streamInfo.count == 34 { streamInfo = Array("fLaC".utf8) + [0x80, 0, 0, 34] + streamInfo }
            return audio(codec: codec, trackId: trackId, packetType: 0, payload: ByteBuffer(bytes: streamInfo))
        default: return nil
        }
    }

    public static func audioFrame(codec: MediaCodec, trackId: UInt8, data: ByteBuffer) -> ByteBuffer? {
        audio(codec: codec, trackId: trackId, packetType: 1, payload: data)
    }

    private static func audio(codec: MediaCodec, trackId: UInt8, packetType: UInt8, payload: ByteBuffer) -> ByteBuffer? {
        var out = ByteBuffer()
        out.reserveCapacity(payload.readableBytes + 8)
        if trackId == 0 && codec == .aac {
            out.writeInteger(UInt8(0xAF)) // AAC, 44 kHz, 16-bit, stereo (fixed for AAC)
            out.writeInteger(packetType)
        } else if trackId == 0 && codec == .mp3 {
            out.writeInteger(UInt8(0x2F))
        } else {
            guard let tag = fourCC(codec) else { return nil }
            if trackId == 0 {
                out.writeInteger(0x90 | packetType)
                out.writeBytes(tag)
            } else {
                out.writeInteger(UInt8(0x90 | 5)) // Multitrack
                out.writeInteger(packetType)      // OneTrack (0) << 4 | packet type
                out.writeBytes(tag)
                out.writeInteger(trackId)
            }
        }
        var body = payload
        out.writeBuffer(&body)
        return out
    }

    private static func writeSInt24(_ value: Int32, _ out: inout ByteBuffer) {
        let v = UInt32(bitPattern: value) & 0xFF_FFFF
        out.writeInteger(UInt8(v >> 16))
        out.writeInteger(UInt8((v >> 8) & 0xFF))
        out.writeInteger(UInt8(v & 0xFF))
    }
}
