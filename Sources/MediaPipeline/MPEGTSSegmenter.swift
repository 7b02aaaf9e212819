import Foundation

/// One HLS rendition's series of MPEG-TS segments and its media playlist, written by LiveGate
/// itself for H.264 and AAC (docs/architecture.md "Output threads"). It replaces libavformat's
/// `hls` muxer on that path, which cost twice what it had to: its MPEG-TS muxer, and a dynamic
/// buffer grown by `realloc` and freed for every segment (BENCHMARKS.md, "HLS taken apart").
/// Here the segment is made in a buffer kept for the output's life and written with one
/// `write(2)` when it is cut; the playlist is rewritten after each (`PlaylistFile`).
///
/// Segments are cut as libavformat cut them, so the bound `HLSWriter.continuationStart` relies
/// on holds: on a keyframe of the rendition's first video track (any packet for audio only)
/// once the stream has reached the next multiple of the target duration since the series began.
/// A segment's `EXTINF` is the time from its first keyframe to the next segment's.
final class MPEGTSSegmenter {
    struct Configuration {
        var directory: String
        /// Segment files are `STEM` + `SEPARATOR` + the media sequence number (five digits) + `.ts`.
        var stem: String
        var separator: String
        var playlistFile: PlaylistFile
        var segmentSeconds: Double
        /// The series' first segment follows an `EXT-X-DISCONTINUITY` (a new connection or layout,
        /// or a session continued from another writer).
        var discontinuityFirst: Bool
    }

    /// Audio access units gather in one PES up to this many bytes (libavformat's default
    /// `pes_payload_size`) or `maximumAudioDelay`, instead of one PES per 20 ms AAC frame: about
    /// a fifth fewer transport packets for the audio.
    static let audioPESBytes = 2930
    static let maximumAudioDelay: Int64 = 27_000 // 0.3 s in 90 kHz ticks, as nginx-rtmp's default
    /// An audio track gathers less while it is what brings the PCR — audio alone, or while the
    /// video is quiet: a PCR at least every 100 ms (ISO/IEC 13818-1 §2.7.2) needs a PES (and, on
    /// the video's PID, a PCR-only packet) at least that often.
    static let maximumPCRAudioDelay: Int64 = 7_200 // 80 ms
    /// A segment larger than this goes to its file as it grows, not only when it is cut: memory
    /// stays bounded for a high bit rate.
    static let flushBytes = 1 << 20

    private let configuration: Configuration
    private let playlist: HLSMediaPlaylist
    private var packetizer: MPEGTSPacketizer
    private let framings: [MPEGTSFraming]
    private let scratch = PacketScratch()
    private let segment = SegmentBuffer()
    /// Per track: audio frames waiting to go out as one PES (nil for video).
    private let pendingAudio: [PendingAudio?]
    private var lastDts: [Int64]
    /// The track whose keyframes cut segments; nil when the rendition is audio only.
    private let referenceTrack: Int?
    private let segmentTicks: Int64

    private var seriesStart: Int64?
    private var segmentStart: Int64?
    private var segmentsCut = 0
    private var packetsInSegment = 0
    /// The latest presentation time of the reference track in this segment, and its frame
    /// interval: the last segment's duration runs to the end of its last frame.
    private var lastReferencePts: Int64?
    private var lastReferenceDts: Int64?
    private var referenceInterval: Int64 = 0
    private var discontinuityPending: Bool
    /// The file of the segment being made, once it outgrew `flushBytes` (else opened at the cut).
    private var file: Int32 = -1
    private var segmentNumber: Int
    private var finished = false

    private final class PendingAudio {
        let buffer = SegmentBuffer(capacity: 4096)
        let carriesPCR: Bool
        init(carriesPCR: Bool) { self.carriesPCR = carriesPCR }
        var pts: Int64 = 0
        var dts: Int64 = 0
        /// The latest frame's decode time.
        var lastDts: Int64 = 0
    }

    /// nil when a track is not H.264 or AAC that `MPEGTSFraming` lays out (libavformat's path).
    init?(layout: StreamLayout, playlist: HLSMediaPlaylist, configuration: Configuration) {
        var kinds: [MPEGTSPacketizer.MediaCodecKind] = []
        var framings: [MPEGTSFraming] = []
        for track in layout.tracks {
            guard let framing = MPEGTSFraming(track) else { return nil }
            framings.append(framing)
            switch framing {
            case .annexB: kinds.append(.h264)
            case .adts: kinds.append(.aac)
            }
        }
        guard let packetizer = MPEGTSPacketizer(codecs: kinds) else { return nil }
        self.packetizer = packetizer
        self.framings = framings
        self.playlist = playlist
        self.configuration = configuration
        pendingAudio = layout.tracks.indices.map { i in layout.tracks[i].kind == .audio ? PendingAudio(carriesPCR: i == packetizer.pcrStream) : nil }
        lastDts = Array(repeating: .min, count: layout.tracks.count)
        referenceTrack = layout.tracks.firstIndex { $0.kind == .video }
        segmentTicks = Int64((configuration.segmentSeconds * 90_000).rounded())
        discontinuityPending = configuration.discontinuityFirst
        segmentNumber = playlist.nextSequence
    }

    deinit {
        // Dropped before `finish` (an output that failed, a superseded session): the partial
        // segment was never listed; its file goes.
        if file >= 0 {
            close(file)
            unlink(segmentPath)
        }
    }

    private var segmentName: String {
        let digits = String(segmentNumber)
        return configuration.stem + configuration.separator + String(repeating: "0", count: max(0, 5 - digits.count)) + digits + ".ts"
    }

    private var segmentPath: String { configuration.directory + "/" + segmentName }

    /// Writes one packet (`track` indexes this rendition's layout). False for a payload that
    /// cannot be laid out (malformed): not written, counted by the caller.
    func write(_ packet: MediaPacket) throws(AVFailure) -> Bool {
        guard packet.track < framings.count else { throw AVFailure("hls write", message: "no track \(packet.track)") }
        let framing = framings[packet.track]
        // 90 kHz, from milliseconds plus the ModEx nanoseconds; DTS strictly increasing per
        // track and PTS never before it, as MediaMuxer kept them for libavformat.
        let fraction = Int64(packet.subMillisecondNanos) * 90 / 1_000_000
        var dts = packet.dts * 90 + fraction
        if dts <= lastDts[packet.track] { dts = lastDts[packet.track] + 1 }
        let pts = max(packet.pts * 90 + fraction, dts)
        // Laid out first: a malformed packet is refused before it can cut a segment (a new
        // segment must begin with the keyframe that cut it).
        guard let layout = packet.data.withUnsafeReadableBytes({ framing.layout($0, isKeyframe: packet.isKeyframe) }) else { return false }

        let isReference = referenceTrack == nil || packet.track == referenceTrack
        let canCut = referenceTrack == nil || (isReference && packet.isKeyframe)
        // The series' clock starts at its first packet, or at its first video packet if that
        // is earlier (libavformat's `start_pts`); a segment's duration from its first keyframe.
        if seriesStart == nil || (isReference && segmentStart == nil && segmentsCut == 0 && pts < seriesStart!) { seriesStart = pts }
        if canCut, packetsInSegment > 0, let start = segmentStart, pts - start > 0, let series = seriesStart,
           pts - series >= segmentTicks * Int64(segmentsCut + 1) {
            try cut(at: pts, dts: dts)
        }

        packet.data.withUnsafeReadableBytes { raw in
            if packetsInSegment == 0 { packetizer.writeTables(into: segment) }
            let laidOut = scratch.reserve(layout.size)
            framing.write(raw, layout: layout, to: laidOut)
            let bytes = UnsafeRawBufferPointer(start: laidOut, count: layout.size)
            if let pending = pendingAudio[packet.track] {
                if pending.buffer.count > 0,
                   pending.buffer.count + bytes.count > Self.audioPESBytes
                    || dts - pending.dts >= (pending.carriesPCR || packetizer.pcrIsQuiet(at: dts) ? Self.maximumPCRAudioDelay : Self.maximumAudioDelay) {
                    flushAudio(packet.track, clock: dts)
                }
                if pending.buffer.count == 0 { pending.pts = pts; pending.dts = dts }
                pending.lastDts = dts
                pending.buffer.append(bytes)
            } else {
                packetizer.writePES(stream: packet.track, pts: pts, dts: dts, clock: dts, randomAccess: packet.isKeyframe, payload: bytes, into: segment)
            }
        }
        lastDts[packet.track] = dts
        if isReference {
            if segmentStart == nil { segmentStart = pts }
            if let previous = lastReferenceDts, dts > previous { referenceInterval = dts - previous }
            lastReferenceDts = dts
            lastReferencePts = max(lastReferencePts ?? pts, pts)
        }
        packetsInSegment += 1
        if segment.count >= Self.flushBytes { try writeOut() }
        return true
    }

    /// Ends the series: the segment being made is written and listed (without `EXT-X-ENDLIST`:
    /// the session may go on in another series; `HLSWriter.close` ends the playlist).
    func finish() throws(AVFailure) {
        guard !finished else { return }
        finished = true
        guard packetsInSegment > 0 else { return }
        let end = (lastReferencePts ?? segmentStart ?? 0) + referenceInterval
        try completeSegment(duration: Double(max(0, end - (segmentStart ?? end))) / 90_000, clock: nil)
    }

    /// Cuts before the packet at `pts`: the finished segment is written and listed.
    private func cut(at pts: Int64, dts: Int64) throws(AVFailure) {
        try completeSegment(duration: Double(pts - (segmentStart ?? pts)) / 90_000, clock: dts)
        segmentsCut += 1
        segmentStart = pts
        lastReferencePts = nil
    }

    /// `clock`: the time of the packet that cuts (nil at the end of a series).
    private func completeSegment(duration: Double, clock: Int64?) throws(AVFailure) {
        for track in pendingAudio.indices { flushAudio(track, clock: clock) }
        try writeOut()
        if close(file) != 0 {
            let failure = AVFailure.posix("close \(segmentPath)")
            file = -1
            throw failure
        }
        file = -1
        let removed = playlist.append(.init(uri: segmentName, duration: duration, discontinuity: discontinuityPending))
        discontinuityPending = false
        try configuration.playlistFile.write(playlist.render())
        for name in removed { unlink(configuration.directory + "/" + name) }
        segmentNumber = playlist.nextSequence
        packetsInSegment = 0
    }

    /// The gathered frames as one PES. `clock` is now (the arriving packet's time): a PCR-only
    /// packet that goes with the PES says now, not the first frame's time — the PCR keeps pace
    /// with the stream while the video is quiet.
    private func flushAudio(_ track: Int, clock: Int64?) {
        guard let pending = pendingAudio[track], pending.buffer.count > 0 else { return }
        packetizer.writePES(stream: track, pts: pending.pts, dts: pending.dts, clock: max(clock ?? pending.lastDts, pending.lastDts),
                            randomAccess: referenceTrack == nil, payload: pending.buffer.bytes, into: segment)
        pending.buffer.removeAll()
    }

    /// The buffered bytes to the segment's file (opened on first need).
    private func writeOut() throws(AVFailure) {
        if file < 0 {
            file = openSegmentFile()
            if file < 0 { throw AVFailure.posix("open \(segmentPath)") }
        }
        try Self.writeAll(file, segment.bytes, what: segmentPath)
        segment.removeAll()
    }

    /// The segment's file: a file that left the playlist long enough ago, renamed to this
    /// segment's name and emptied, when the playlist has one (`HLSMediaPlaylist.reusableFile`);
    /// else a new one. Reusing the inode spares the file system an inode freed and another
    /// allocated at every segment — on ext4 without a journal, each allocation scans past every
    /// inode freed in the last seconds (`recently_deleted`), which at 200 streams was over a
    /// third of the output threads' time (BENCHMARKS.md, "frames into a slab, segment files reused").
    private func openSegmentFile() -> Int32 {
        if let old = playlist.reusableFile() {
            let oldPath = configuration.directory + "/" + old
            if rename(oldPath, segmentPath) == 0 {
                let fd = open(segmentPath, O_WRONLY | O_TRUNC | O_CLOEXEC)
                if fd >= 0 { return fd }
            } else {
                unlink(oldPath)
            }
        }
        return open(segmentPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666)
    }

    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, what: String) throws(AVFailure) {
        var done = 0
        while done < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw AVFailure.posix("write \(what)")
            }
            done += n
        }
    }
}
