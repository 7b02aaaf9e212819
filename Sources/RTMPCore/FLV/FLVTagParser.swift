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

    /// Parses a video message whose body holds one track. Returns `nil` for command/info
    /// frames that carry no picture. A multitrack message yields its first track here; ingest
    /// uses `parseVideoMessage`, which returns every track.
    public static func parseVideo(_ payload: ByteBuffer, timestamp: UInt32) throws(Malformed) -> MediaFrame? {
        if !mayHoldSeveralFrames(payload, video: true) { return try parseSingleVideo(payload, timestamp: timestamp) }
        return try parseVideoMessage(payload, timestamp: timestamp).first
    }

    /// A message `mayHoldSeveralFrames` says holds at most one frame, as its chunks brought it.
    /// A coded frame keeps the pieces after its header (its bytes are not copied here: the
    /// outputs join them if they need them contiguous, and a channel without outputs never
    /// does — docs/contract.md §2 "Payloads in chunks"). Anything else the session reads
    /// (sequence headers, metadata), and a first piece too short to hold the whole tag
    /// header, is parsed joined.
    public static func parseFrame(_ body: ChunkedPayload, video: Bool, timestamp: UInt32) throws(Malformed) -> MediaFrame? {
        if body.isContiguous {
            return video ? try parseSingleVideo(body.head, timestamp: timestamp) : try parseSingleAudio(body.head, timestamp: timestamp)
        }
        // The longest single-frame tag header: E-RTMP video, 1 + FourCC 4 + composition time 3.
        guard body.head.readableBytes >= 8 else {
            let payload = body.joined()
            return video ? try parseSingleVideo(payload, timestamp: timestamp) : try parseSingleAudio(payload, timestamp: timestamp)
        }
        guard var frame = video ? try parseSingleVideo(body.head, timestamp: timestamp) : try parseSingleAudio(body.head, timestamp: timestamp) else {
            return nil
        }
        guard frame.packetType == .codedFrames else {
            let payload = body.joined()
            return video ? try parseSingleVideo(payload, timestamp: timestamp) : try parseSingleAudio(payload, timestamp: timestamp)
        }
        frame.body = body.replacingHead(with: frame.body.head)
        return frame
    }

    /// A message `mayHoldSeveralFrames` says holds at most one frame.
    private static func parseSingleVideo(_ payload: ByteBuffer, timestamp: UInt32) throws(Malformed) -> MediaFrame? {
        var p = payload
        guard let b0 = p.readInteger(as: UInt8.self) else { throw Malformed(description: "empty video tag") }
        if b0 & 0x80 != 0 {
            return try parseExVideo(b0, &p, timestamp: timestamp).last
        }
        return try parseClassicVideo(b0, &p, timestamp: timestamp)
    }

    /// Whether a message may hold more than one frame (E-RTMP `Multitrack`, or ModEx in front of
    /// a packet type that may be one): only those take the array path. Every other message — all
    /// of a classic single-track publish — is parsed without allocating.
    public static func mayHoldSeveralFrames(_ payload: ByteBuffer, video: Bool) -> Bool {
        guard let b0 = payload.getInteger(at: payload.readerIndex, as: UInt8.self) else { return false }
        if video { return b0 & 0x80 != 0 && (b0 & 0x0F == 6 || b0 & 0x0F == 7) }
        return b0 >> 4 == 9 && (b0 & 0x0F == 5 || b0 & 0x0F == 7)
    }

    /// Parses a whole video message: legacy FLV, or an E-RTMP `ExVideoTagHeader` with its ModEx
    /// modifiers and, for `VideoPacketType.Multitrack`, one frame per track (`OneTrack`,
    /// `ManyTracks`, `ManyTracksManyCodecs`; docs/contract.md §2). Empty for command frames.
    /// Each frame's `dts` is the raw 32-bit timestamp; the session maps it onto the timeline.
    public static func parseVideoMessage(_ payload: ByteBuffer, timestamp: UInt32) throws(Malformed) -> [MediaFrame] {
        var p = payload
        guard let b0 = p.readInteger(as: UInt8.self) else { throw Malformed(description: "empty video tag") }
        if b0 & 0x80 != 0 { return try parseExVideo(b0, &p, timestamp: timestamp) }
        return try parseClassicVideo(b0, &p, timestamp: timestamp).map { [$0] } ?? []
    }

    private static func parseClassicVideo(_ b0: UInt8, _ p: inout ByteBuffer, timestamp: UInt32) throws(Malformed) -> MediaFrame? {
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

    private static func videoCodec(_ fourCC: UInt32) throws(Malformed) -> MediaCodec {
        switch fourCC {
        case fourCCValue("avc1"): return .h264
        case fourCCValue("hvc1"): return .hevc
        case fourCCValue("av01"): return .av1
        case fourCCValue("vp09"): return .vp9
        case fourCCValue("vp08"): return .vp8
        case fourCCValue("vvc1"): return .vvc
        default: throw Malformed(description: "unsupported video FourCC \(fourCCString(fourCC))")
        }
    }

    private static func parseExVideo(_ b0: UInt8, _ p: inout ByteBuffer, timestamp: UInt32) throws(Malformed) -> [MediaFrame] {
        let frameType = (b0 >> 4) & 0x07
        var rawType = b0 & 0x0F
        let nanos = try readModEx(&p, packetType: &rawType)
        guard let firstType = VideoPacketType(rawValue: rawType) else {
            throw Malformed(description: "unknown E-RTMP video packet type \(rawType)")
        }
        if frameType == 5 && firstType != .metadata { return [] } // command frame: no picture
        var multitrack: UInt8?
        var type = firstType
        var fourCC: UInt32?
        if firstType == .multitrack {
            guard let b = p.readInteger(as: UInt8.self) else { throw Malformed(description: "truncated multitrack header") }
            guard b >> 4 <= 2 else { throw Malformed(description: "unknown multitrack type \(b >> 4)") }
            multitrack = b >> 4
            guard let t = VideoPacketType(rawValue: b & 0x0F), t != .multitrack, t != .modEx else {
                throw Malformed(description: "invalid packet type \(b & 0x0F) inside a multitrack video message")
            }
            type = t
        }
        if multitrack != 2 {
            guard let f = p.readInteger(as: UInt32.self) else { throw Malformed(description: "truncated E-RTMP FourCC") }
            fourCC = f
        }
        var frames: [MediaFrame] = []
        repeat {
            let (trackId, body0, trackFourCC) = try nextTrack(&p, multitrack: multitrack, fourCC: &fourCC, kind: "video")
            var body = body0
            let codec = try videoCodec(trackFourCC)
            var cts: Int32 = 0
            let packetType: MediaPacketType
            switch type {
            case .sequenceStart, .mpeg2TSSequenceStart: packetType = .sequenceHeader
            case .codedFrames:
                packetType = .codedFrames
                // AVC, HEVC and VVC carry a composition time in CodedFrames.
                if codec == .hevc || codec == .h264 || codec == .vvc {
                    guard let c = body.readSInt24() else { throw Malformed(description: "truncated composition time") }
                    cts = c
                }
            case .codedFramesX: packetType = .codedFrames
            case .sequenceEnd: packetType = .sequenceEnd
            case .metadata: packetType = .metadata
            case .multitrack, .modEx: throw Malformed(description: "nested E-RTMP video packet type \(type)")
            }
            var frame = MediaFrame(kind: .video, codec: codec, packetType: packetType, isKeyframe: frameType == 1 || frameType == 4,
                                   dts: Int64(timestamp), compositionTimeOffset: cts, data: body, legacyAudio: nil)
            frame.trackId = trackId
            frame.timestampOffsetNanos = nanos
            frames.append(frame)
        } while multitrack != nil && multitrack != 0 && p.readableBytes > 0
        return frames
    }

    /// The next track of a message body (E-RTMP's ExVideoTagBody/ExAudioTagBody loop, shared by
    /// both kinds): without multitrack the whole rest; `OneTrack` (0) a track id, then the rest;
    /// `ManyTracks` (1) a track id and a UI24 size; `ManyTracksManyCodecs` (2) a FourCC first.
    private static func nextTrack(_ p: inout ByteBuffer, multitrack: UInt8?, fourCC: inout UInt32?,
                                  kind: String) throws(Malformed) -> (trackId: UInt8, body: ByteBuffer, fourCC: UInt32) {
        guard let mode = multitrack else {
            let body = p
            p.moveReaderIndex(forwardBy: p.readableBytes)
            return (0, body, fourCC ?? 0)
        }
        if mode == 2 {
            guard let f = p.readInteger(as: UInt32.self) else { throw Malformed(description: "truncated track FourCC") }
            fourCC = f
        }
        guard let id = p.readInteger(as: UInt8.self) else { throw Malformed(description: "truncated track id") }
        if mode == 0 {
            let body = p
            p.moveReaderIndex(forwardBy: p.readableBytes)
            return (id, body, fourCC ?? 0)
        }
        guard let size = p.readUInt24(), let slice = p.readSlice(length: Int(size)) else {
            throw Malformed(description: "\(kind) track \(id) overruns its message")
        }
        return (id, slice, fourCC ?? 0)
    }

    /// Reads the ModEx modifiers in front of an E-RTMP packet type (video and audio share the
    /// syntax): each is a size (UI8 + 1, or UI16 + 1 when the first says 256), its data, then a
    /// byte of modifier type and the next packet type. Returns the `TimestampOffsetNano`
    /// (0…999,999 ns, added to the message's millisecond timestamp); unknown modifiers are
    /// skipped as the specification asks.
    static func readModEx(_ p: inout ByteBuffer, packetType: inout UInt8) throws(Malformed) -> Int32 {
        var nanos: Int32 = 0
        while packetType == 7 {
            guard var size = p.readInteger(as: UInt8.self).map({ Int($0) + 1 }) else { throw Malformed(description: "truncated ModEx size") }
            if size == 256 {
                guard let wide = p.readInteger(as: UInt16.self) else { throw Malformed(description: "truncated ModEx size") }
                size = Int(wide) + 1
            }
            guard let data = p.readBytes(length: size), let next = p.readInteger(as: UInt8.self) else {
                throw Malformed(description: "truncated ModEx data")
            }
            packetType = next & 0x0F
            if next >> 4 == 0 { // TimestampOffsetNano
                guard data.count >= 3 else { throw Malformed(description: "TimestampOffsetNano shorter than 3 bytes") }
                let value = Int32(data[0]) << 16 | Int32(data[1]) << 8 | Int32(data[2])
                guard value <= 999_999 else { throw Malformed(description: "TimestampOffsetNano \(value) ns is not below 1 ms") }
                nanos = value
            }
        }
        return nanos
    }

    /// Parses an audio message whose body holds one track (the first, for a multitrack one;
    /// ingest uses `parseAudioMessage`).
    public static func parseAudio(_ payload: ByteBuffer, timestamp: UInt32) throws(Malformed) -> MediaFrame? {
        if !mayHoldSeveralFrames(payload, video: false) { return try parseSingleAudio(payload, timestamp: timestamp) }
        return try parseAudioMessage(payload, timestamp: timestamp).first
    }

    /// A message `mayHoldSeveralFrames` says holds at most one frame.
    private static func parseSingleAudio(_ payload: ByteBuffer, timestamp: UInt32) throws(Malformed) -> MediaFrame? {
        var p = payload
        guard let b0 = p.readInteger(as: UInt8.self) else { throw Malformed(description: "empty audio tag") }
        if b0 >> 4 == 9 { return try parseExAudio(b0, &p, timestamp: timestamp).last }
        return try parseClassicAudio(b0, &p, timestamp: timestamp)
    }

    /// Parses a whole audio message: legacy FLV, or an E-RTMP `ExAudioTagHeader` (FourCC,
    /// ModEx, multitrack) with one frame per track.
    public static func parseAudioMessage(_ payload: ByteBuffer, timestamp: UInt32) throws(Malformed) -> [MediaFrame] {
        var p = payload
        guard let b0 = p.readInteger(as: UInt8.self) else { throw Malformed(description: "empty audio tag") }
        if b0 >> 4 == 9 { return try parseExAudio(b0, &p, timestamp: timestamp) }
        return [try parseClassicAudio(b0, &p, timestamp: timestamp)]
    }

    private static func parseClassicAudio(_ b0: UInt8, _ p: inout ByteBuffer, timestamp: UInt32) throws(Malformed) -> MediaFrame {
        let soundFormat = b0 >> 4
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

    private static func audioCodec(_ fourCC: UInt32) throws(Malformed) -> MediaCodec {
        switch fourCC {
        case fourCCValue("mp4a"): return .aac
        case fourCCValue("Opus"): return .opus
        case fourCCValue("fLaC"): return .flac
        case fourCCValue("ac-3"): return .ac3
        case fourCCValue("ec-3"): return .eac3
        case fourCCValue(".mp3"): return .mp3
        default: throw Malformed(description: "unsupported audio FourCC \(fourCCString(fourCC))")
        }
    }

    private static func audioPacketType(_ raw: UInt8) throws(Malformed) -> MediaPacketType {
        switch raw {
        case 0: return .sequenceHeader
        case 1: return .codedFrames
        case 2: return .sequenceEnd
        case 4: return .multichannelConfig
        default: throw Malformed(description: "E-RTMP audio packet type \(raw) is not supported")
        }
    }

    private static func parseExAudio(_ b0: UInt8, _ p: inout ByteBuffer, timestamp: UInt32) throws(Malformed) -> [MediaFrame] {
        var rawType = b0 & 0x0F
        let nanos = try readModEx(&p, packetType: &rawType)
        var multitrack: UInt8?
        if rawType == 5 {
            guard let b = p.readInteger(as: UInt8.self) else { throw Malformed(description: "truncated multitrack header") }
            guard b >> 4 <= 2 else { throw Malformed(description: "unknown multitrack type \(b >> 4)") }
            multitrack = b >> 4
            rawType = b & 0x0F
            guard rawType != 5 && rawType != 7 else { throw Malformed(description: "invalid packet type \(rawType) inside a multitrack audio message") }
        }
        let packetType = try audioPacketType(rawType)
        var fourCC: UInt32?
        if multitrack != 2 {
            guard let f = p.readInteger(as: UInt32.self) else { throw Malformed(description: "truncated E-RTMP audio FourCC") }
            fourCC = f
        }
        var frames: [MediaFrame] = []
        repeat {
            let (trackId, body, trackFourCC) = try nextTrack(&p, multitrack: multitrack, fourCC: &fourCC, kind: "audio")
            var frame = MediaFrame(kind: .audio, codec: try audioCodec(trackFourCC), packetType: packetType, isKeyframe: true,
                                   dts: Int64(timestamp), compositionTimeOffset: 0, data: body, legacyAudio: nil)
            frame.trackId = trackId
            frame.timestampOffsetNanos = nanos
            frames.append(frame)
        } while multitrack != nil && multitrack != 0 && p.readableBytes > 0
        return frames
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
