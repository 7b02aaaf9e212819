import NIOCore

/// Parses the FLV tag header at the start of RTMP audio (8) and video (9) messages,
/// including Enhanced RTMP (v1/v2) FourCC video and audio.
///
/// Malformed tags are not protocol errors: the caller skips and counts them, because one
/// bad frame is no reason to end a broadcast.
public enum FLVTagParser {
    public struct Malformed: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// E-RTMP video packet types.
    enum VideoPacketType: UInt8 {
        case sequenceStart = 0, codedFrames = 1, sequenceEnd = 2, codedFramesX = 3, metadata = 4
        case mpeg2TSSequenceStart = 5, multitrack = 6, modEx = 7
    }

    /// Parses a video message. Returns `nil` for command/info frames that carry no picture.
    /// The returned frame's `dts` is the raw 32-bit timestamp; the session maps it onto the timeline.
    public static func parseVideo(_ payload: ByteBuffer, timestamp: UInt32) throws(Malformed) -> MediaFrame? {
        var p = payload
        guard let b0 = p.readInteger(as: UInt8.self) else { throw Malformed(description: "empty video tag") }
        if b0 & 0x80 != 0 {
            let frameType = (b0 >> 4) & 0x07
            guard let rawType = VideoPacketType(rawValue: b0 & 0x0F) else {
                throw Malformed(description: "unknown E-RTMP video packet type \(b0 & 0x0F)")
            }
            guard let fourCC = p.readInteger(as: UInt32.self) else { throw Malformed(description: "truncated E-RTMP FourCC") }
            if frameType == 5 { return nil } // command frame: no picture
            let codec: MediaCodec
            switch fourCC {
            case fourCCValue("avc1"): codec = .h264
            case fourCCValue("hvc1"): codec = .hevc
            case fourCCValue("av01"): codec = .av1
            case fourCCValue("vp09"): codec = .vp9
            case fourCCValue("vp08"): codec = .vp8
            default: throw Malformed(description: "unsupported video FourCC \(fourCCString(fourCC))")
            }
            var cts: Int32 = 0
            let packetType: MediaPacketType
            switch rawType {
            case .sequenceStart, .mpeg2TSSequenceStart: packetType = .sequenceHeader
            case .codedFrames:
                packetType = .codedFrames
                // Only AVC and HEVC carry a composition time in CodedFrames.
                if codec == .hevc || codec == .h264 {
                    guard let c = p.readSInt24() else { throw Malformed(description: "truncated composition time") }
                    cts = c
                }
            case .codedFramesX: packetType = .codedFrames
            case .sequenceEnd: packetType = .sequenceEnd
            case .metadata: packetType = .metadata
            case .multitrack, .modEx:
                throw Malformed(description: "E-RTMP video packet type \(rawType) is not supported")
            }
            return MediaFrame(kind: .video, codec: codec, packetType: packetType, isKeyframe: frameType == 1 || frameType == 4,
                              dts: Int64(timestamp), compositionTimeOffset: cts, data: p, legacyAudio: nil)
        }

        let frameType = b0 >> 4
        let codecID = b0 & 0x0F
        if frameType == 5 { return nil } // video info/command frame
        let codec: MediaCodec
        switch codecID {
        case 7: codec = .h264
        case 12: codec = .hevc // the widespread pre-E-RTMP extension (SRS, Chinese CDNs)
        case 2: codec = .h263
        case 3, 6: codec = .screen
        case 4, 5: codec = .vp6
        default: throw Malformed(description: "unknown FLV video codec id \(codecID)")
        }
        var packetType = MediaPacketType.codedFrames
        var cts: Int32 = 0
        if codec == .h264 || codec == .hevc {
            guard let avcPacketType = p.readInteger(as: UInt8.self), let c = p.readSInt24() else {
                throw Malformed(description: "truncated AVC video tag")
            }
            switch avcPacketType {
            case 0: packetType = .sequenceHeader
            case 1: packetType = .codedFrames
            case 2: packetType = .sequenceEnd
            default: throw Malformed(description: "unknown AVCPacketType \(avcPacketType)")
            }
            cts = c
        }
        return MediaFrame(kind: .video, codec: codec, packetType: packetType, isKeyframe: frameType == 1 || frameType == 4,
                          dts: Int64(timestamp), compositionTimeOffset: cts, data: p, legacyAudio: nil)
    }

    public static func parseAudio(_ payload: ByteBuffer, timestamp: UInt32) throws(Malformed) -> MediaFrame? {
        var p = payload
        guard let b0 = p.readInteger(as: UInt8.self) else { throw Malformed(description: "empty audio tag") }
        let soundFormat = b0 >> 4
        if soundFormat == 9 {
            // E-RTMP audio: packet type in the low nibble, then a FourCC.
            let rawType = b0 & 0x0F
            guard let fourCC = p.readInteger(as: UInt32.self) else { throw Malformed(description: "truncated E-RTMP audio FourCC") }
            let codec: MediaCodec
            switch fourCC {
            case fourCCValue("mp4a"): codec = .aac
            case fourCCValue("Opus"): codec = .opus
            case fourCCValue("fLaC"): codec = .flac
            case fourCCValue("ac-3"): codec = .ac3
            case fourCCValue("ec-3"): codec = .eac3
            case fourCCValue(".mp3"): codec = .mp3
            default: throw Malformed(description: "unsupported audio FourCC \(fourCCString(fourCC))")
            }
            let packetType: MediaPacketType
            switch rawType {
            case 0: packetType = .sequenceHeader
            case 1: packetType = .codedFrames
            case 2: packetType = .sequenceEnd
            case 4: packetType = .metadata // multichannel config
            default: throw Malformed(description: "E-RTMP audio packet type \(rawType) is not supported")
            }
            return MediaFrame(kind: .audio, codec: codec, packetType: packetType, isKeyframe: true,
                              dts: Int64(timestamp), compositionTimeOffset: 0, data: p, legacyAudio: nil)
        }
        let rates = [5512, 11025, 22050, 44100]
        var header = FLVAudioHeader(sampleRate: rates[Int((b0 >> 2) & 0x03)], channels: Int(b0 & 0x01) + 1,
                                    bitsPerSample: (b0 & 0x02) != 0 ? 16 : 8)
        let codec: MediaCodec
        switch soundFormat {
        case 10: codec = .aac
        case 2, 14: codec = .mp3
        case 0, 1, 3: codec = .pcm
        case 4, 5, 6: codec = .nellymoser
        case 7: codec = .g711a
        case 8: codec = .g711u
        case 11: codec = .speex
        default: throw Malformed(description: "unknown FLV sound format \(soundFormat)")
        }
        if soundFormat == 14 { header.sampleRate = 8000 }
        var packetType = MediaPacketType.codedFrames
        if codec == .aac {
            guard let aacPacketType = p.readInteger(as: UInt8.self) else { throw Malformed(description: "truncated AAC audio tag") }
            packetType = aacPacketType == 0 ? .sequenceHeader : .codedFrames
        }
        return MediaFrame(kind: .audio, codec: codec, packetType: packetType, isKeyframe: true,
                          dts: Int64(timestamp), compositionTimeOffset: 0, data: p, legacyAudio: header)
    }

    static func fourCCValue(_ s: StaticString) -> UInt32 {
        s.withUTF8Buffer { b in b.reduce(UInt32(0)) { $0 << 8 | UInt32($1) } }
    }

    static func fourCCString(_ v: UInt32) -> String {
        let bytes = [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
        return bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F } ? String(decoding: bytes, as: UTF8.self) : "0x" + String(v, radix: 16)
    }
}

extension ByteBuffer {
    /// FLV's SI24: a signed 24-bit big-endian integer.
    mutating func readSInt24() -> Int32? {
        guard let u = readUInt24() else { return nil }
        return Int32(bitPattern: (u & 0x80_0000) != 0 ? u | 0xFF00_0000 : u)
    }
}
