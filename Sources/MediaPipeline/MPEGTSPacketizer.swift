/// Writes an MPEG-2 transport stream (ISO/IEC 13818-1) for one HLS rendition: the program
/// tables, and each access unit as a PES packet cut into 188-byte transport packets.
/// docs/architecture.md "Output threads".
///
/// The layout is the one libavformat's `mpegts` muxer wrote for LiveGate's segments, so players
/// see the same streams: program 1 with its PMT on PID 0x1000, the tracks on PIDs 0x100, 0x101…
/// in the rendition's order, H.264 as stream type 0x1B (Annex B, stream id 0xE0…) and AAC as
/// 0x0F (ADTS, stream id 0xC0…), the PCR carried by the first video track (else the first
/// track) in the adaptation field of each of its PES packets, with `random_access_indicator`
/// on a keyframe's first packet. The payloads arrive already laid out (`MPEGTSFraming`).
struct MPEGTSPacketizer {
    static let packetSize = 188
    static let programMapPID: UInt16 = 0x1000
    static let firstElementaryPID: UInt16 = 0x100
    /// MPEG-2 requires a PCR at least every 100 ms: when the PCR track is quiet this long (a video
    /// track at one frame a second, or not started yet), a packet with only a PCR goes before the
    /// other track's PES. 80 ms, so that audio PES gathered over 80 ms when the PCR is quiet
    /// (`MPEGTSSegmenter`) each bring one.
    static let pcrInterval: Int64 = 7_200

    /// Whether a PES at `dts` of a track other than the PCR's would come with a PCR-only packet.
    func pcrIsQuiet(at dts: Int64) -> Bool { lastPCR.map { dts - $0 >= Self.pcrInterval } ?? true }

    struct Stream {
        let pid: UInt16
        let streamId: UInt8
        let streamType: UInt8
        var isVideo: Bool { streamType == 0x1B }
        var continuity: UInt8 = 0
    }

    private(set) var streams: [Stream]
    let pcrStream: Int
    private var patContinuity: UInt8 = 0
    private var pmtContinuity: UInt8 = 0
    private let patPacket: [UInt8]
    private let pmtPacket: [UInt8]
    private var lastPCR: Int64?

    /// nil when a track is one this writer does not carry (only H.264 and AAC: what
    /// `MPEGTSFraming` lays out).
    init?(codecs: [MediaCodecKind]) {
        var streams: [Stream] = []
        var videos: UInt8 = 0, audios: UInt8 = 0
        for (i, codec) in codecs.enumerated() {
            let pid = Self.firstElementaryPID + UInt16(i)
            switch codec {
            case .h264:
                streams.append(Stream(pid: pid, streamId: 0xE0 + videos, streamType: 0x1B))
                videos += 1
            case .aac:
                streams.append(Stream(pid: pid, streamId: 0xC0 + audios, streamType: 0x0F))
                audios += 1
            }
        }
        // The PMT stays within one transport packet; stream ids within their ranges.
        guard !streams.isEmpty, streams.count <= 30, videos <= 16, audios <= 32 else { return nil }
        self.streams = streams
        pcrStream = streams.firstIndex { $0.isVideo } ?? 0
        patPacket = Self.sectionPacket(pid: 0, section: Self.programAssociationSection())
        pmtPacket = Self.sectionPacket(pid: Self.programMapPID, section: Self.programMapSection(streams, pcrPID: streams[pcrStream].pid))
    }

    /// The two codecs this writer carries.
    enum MediaCodecKind { case h264, aac }

    /// PAT then PMT: what a segment starts with, so each can be played alone.
    mutating func writeTables(into out: SegmentBuffer) {
        Self.put(patPacket, continuity: &patContinuity, into: out)
        Self.put(pmtPacket, continuity: &pmtContinuity, into: out)
    }

    /// One access unit (or, for audio, several ADTS frames) of `stream` as a PES packet. Times in
    /// 90 kHz ticks (any range: written modulo 2^33). `clock`: the stream's time now (for
    /// gathered audio, later than the PES's first frame): what a PCR-only packet says.
    mutating func writePES(stream index: Int, pts: Int64, dts: Int64, clock: Int64, randomAccess: Bool,
                           payload: UnsafeRawBufferPointer, into out: SegmentBuffer) {
        let stream = streams[index]
        let carriesPCR = index == pcrStream
        if !carriesPCR, pcrIsQuiet(at: clock) {
            writePCROnly(max(clock, lastPCR ?? clock), into: out)
        }
        // PES header: start code, stream id, length, flags, PTS (and DTS when they differ).
        var header: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let headerSize = withUnsafeMutableBytes(of: &header) { h -> Int in
            let hasDTS = dts != pts
            let optional = hasDTS ? 10 : 5
            let length = 3 + optional + payload.count
            // Video may say 0 (unbounded); audio gives its length when it fits in 16 bits.
            let pesLength = stream.isVideo || length > 0xFFFF ? 0 : length
            h[0] = 0; h[1] = 0; h[2] = 1; h[3] = stream.streamId
            h[4] = UInt8(truncatingIfNeeded: pesLength >> 8); h[5] = UInt8(truncatingIfNeeded: pesLength)
            h[6] = stream.isVideo ? 0x84 : 0x80 // '10', data_alignment_indicator for video (it starts with an AUD)
            h[7] = hasDTS ? 0xC0 : 0x80
            h[8] = UInt8(optional)
            Self.timestamp(pts, prefix: hasDTS ? 0x3 : 0x2, into: h, at: 9)
            if hasDTS { Self.timestamp(dts, prefix: 0x1, into: h, at: 14) }
            return 9 + optional
        }
        if carriesPCR { lastPCR = lastPCR.map { max($0, dts) } ?? dts }
        withUnsafeBytes(of: &header) { h in
            cut(stream: index, header: UnsafeRawBufferPointer(rebasing: h[0..<headerSize]), payload: payload,
                pcr: carriesPCR ? lastPCR : nil, randomAccess: randomAccess, into: out)
        }
    }

    /// Cuts header + payload into transport packets; the last one is filled up with stuffing
    /// bytes in its adaptation field (a PES never shares a transport packet).
    private mutating func cut(stream index: Int, header: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer,
                              pcr: Int64?, randomAccess: Bool, into out: SegmentBuffer) {
        let pid = streams[index].pid
        var remaining = header.count + payload.count
        var headerDone = 0, payloadDone = 0
        var first = true
        // Room for every packet at once: the first carries 184 bytes less its adaptation field
        // (flags, PCR), the others 184.
        let firstRoom = 184 - (randomAccess || pcr != nil ? 2 + (pcr != nil ? 6 : 0) : 0)
        let count = 1 + max(0, remaining - firstRoom + 183) / 184
        var p = out.append(count * Self.packetSize).assumingMemoryBound(to: UInt8.self)
        defer { assert(p == (out.bytes.baseAddress! + out.count).assumingMemoryBound(to: UInt8.self), "packets counted right") }
        while remaining > 0 {
            defer { p += Self.packetSize }
            p[0] = 0x47
            p[1] = (first ? 0x40 : 0) | UInt8(truncatingIfNeeded: pid >> 8)
            p[2] = UInt8(truncatingIfNeeded: pid)
            var flags: UInt8 = 0
            var withPCR = false
            if first {
                if randomAccess { flags |= 0x40 }
                if pcr != nil { flags |= 0x10; withPCR = true }
            }
            // Adaptation field bytes, its length byte included (0: none).
            var adaptation = flags != 0 ? 2 + (withPCR ? 6 : 0) : 0
            let room = 184 - adaptation
            if remaining < room { adaptation += room - remaining }
            if adaptation > 0 {
                p[4] = UInt8(adaptation - 1)
                if adaptation > 1 {
                    p[5] = flags
                    var o = 6
                    if withPCR, let pcr {
                        Self.programClockReference(pcr, into: p + 6)
                        o = 12
                    }
                    if o < 4 + adaptation { (p + o).initialize(repeating: 0xFF, count: 4 + adaptation - o) }
                }
            }
            p[3] = (adaptation > 0 ? 0x30 : 0x10) | streams[index].continuity
            streams[index].continuity = (streams[index].continuity + 1) & 0x0F
            var o = 4 + adaptation
            let fromHeader = min(header.count - headerDone, 188 - o)
            if fromHeader > 0 {
                UnsafeMutableRawPointer(p + o).copyMemory(from: header.baseAddress! + headerDone, byteCount: fromHeader)
                headerDone += fromHeader
                o += fromHeader
            }
            let fromPayload = 188 - o
            if fromPayload > 0 {
                UnsafeMutableRawPointer(p + o).copyMemory(from: payload.baseAddress! + payloadDone, byteCount: fromPayload)
                payloadDone += fromPayload
            }
            remaining -= 184 - adaptation
            first = false
        }
    }

    /// A transport packet with only an adaptation field holding a PCR (no payload: it repeats the
    /// PID's last continuity counter instead of advancing it).
    private mutating func writePCROnly(_ pcr: Int64, into out: SegmentBuffer) {
        let pid = streams[pcrStream].pid
        let p = out.append(Self.packetSize).assumingMemoryBound(to: UInt8.self)
        p[0] = 0x47
        p[1] = UInt8(truncatingIfNeeded: pid >> 8)
        p[2] = UInt8(truncatingIfNeeded: pid)
        p[3] = 0x20 | (streams[pcrStream].continuity &- 1) & 0x0F
        p[4] = 183
        p[5] = 0x10
        Self.programClockReference(pcr, into: p + 6)
        (p + 12).initialize(repeating: 0xFF, count: 188 - 12)
        lastPCR = pcr
    }

    /// PCR: a 33-bit base in 90 kHz, six reserved bits, a 9-bit extension (0).
    private static func programClockReference(_ ticks: Int64, into p: UnsafeMutablePointer<UInt8>) {
        let base = UInt64(bitPattern: ticks) & 0x1_FFFF_FFFF
        p[0] = UInt8(truncatingIfNeeded: base >> 25)
        p[1] = UInt8(truncatingIfNeeded: base >> 17)
        p[2] = UInt8(truncatingIfNeeded: base >> 9)
        p[3] = UInt8(truncatingIfNeeded: base >> 1)
        p[4] = UInt8(truncatingIfNeeded: (base & 1) << 7) | 0x7E
        p[5] = 0
    }

    /// A PTS or DTS: 4-bit prefix, 33 bits in three groups, each followed by a marker bit.
    private static func timestamp(_ ticks: Int64, prefix: UInt8, into h: UnsafeMutableRawBufferPointer, at i: Int) {
        let v = UInt64(bitPattern: ticks) & 0x1_FFFF_FFFF
        h[i] = prefix << 4 | UInt8(truncatingIfNeeded: (v >> 29) & 0x0E) | 1
        h[i + 1] = UInt8(truncatingIfNeeded: v >> 22)
        h[i + 2] = UInt8(truncatingIfNeeded: (v >> 14) & 0xFE) | 1
        h[i + 3] = UInt8(truncatingIfNeeded: v >> 7)
        h[i + 4] = UInt8(truncatingIfNeeded: (v << 1) & 0xFE) | 1
    }

    private static func put(_ packet: [UInt8], continuity: inout UInt8, into out: SegmentBuffer) {
        let p = out.append(packetSize).assumingMemoryBound(to: UInt8.self)
        packet.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: packetSize) }
        p[3] = 0x10 | continuity
        continuity = (continuity + 1) & 0x0F
    }

    // MARK: Program-specific information

    /// PAT: transport stream 1, program 1 → the PMT's PID.
    static func programAssociationSection() -> [UInt8] {
        var s: [UInt8] = [0x00, 0xB0, 0x00, 0x00, 0x01, 0xC1, 0x00, 0x00]
        s += [0x00, 0x01, 0xE0 | UInt8(programMapPID >> 8), UInt8(programMapPID & 0xFF)]
        return finishSection(s)
    }

    /// PMT of program 1: the PCR PID, then each stream's type and PID (no descriptors).
    static func programMapSection(_ streams: [Stream], pcrPID: UInt16) -> [UInt8] {
        var s: [UInt8] = [0x02, 0xB0, 0x00, 0x00, 0x01, 0xC1, 0x00, 0x00]
        s += [0xE0 | UInt8(pcrPID >> 8), UInt8(pcrPID & 0xFF), 0xF0, 0x00]
        for stream in streams {
            s += [stream.streamType, 0xE0 | UInt8(stream.pid >> 8), UInt8(stream.pid & 0xFF), 0xF0, 0x00]
        }
        return finishSection(s)
    }

    /// Fills in `section_length` (what follows it, CRC included) and appends the CRC.
    private static func finishSection(_ section: [UInt8]) -> [UInt8] {
        var s = section
        let length = s.count - 3 + 4
        s[1] = 0xB0 | UInt8(length >> 8)
        s[2] = UInt8(length & 0xFF)
        let crc = crc32(s)
        return s + [UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)]
    }

    /// A section in one transport packet: pointer field 0, the section, then 0xFF.
    static func sectionPacket(pid: UInt16, section: [UInt8]) -> [UInt8] {
        var p: [UInt8] = [0x47, 0x40 | UInt8(pid >> 8), UInt8(pid & 0xFF), 0x10, 0x00] + section
        p += [UInt8](repeating: 0xFF, count: packetSize - p.count)
        return p
    }

    /// CRC-32/MPEG-2 (polynomial 0x04C11DB7, initial 0xFFFFFFFF, not reflected, no final XOR).
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte) << 24
            for _ in 0..<8 { crc = crc & 0x8000_0000 != 0 ? (crc << 1) ^ 0x04C1_1DB7 : crc << 1 }
        }
        return crc
    }
}
