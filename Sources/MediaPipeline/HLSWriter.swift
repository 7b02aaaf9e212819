import Foundation
import NIOConcurrencyHelpers
import RTMPCore

/// docs/contract.md §3 `hls`: segments cut on keyframes (2 s target, 6-segment rolling window)
/// under `data/hls/CHANNEL_ID/` — MPEG-TS (our `MPEGTSSegmenter` for H.264 and AAC, else
/// libavformat's `hls` muxer: docs/architecture.md "Output threads"), or fMP4 with an
/// `EXT-X-MAP` for the codecs MPEG-TS cannot carry well (`hls.segmentFormat`). A session with
/// several video (or audio) tracks is *adaptive*: `index.m3u8` becomes a multivariant playlist
/// over one media playlist per track (`HLSRendition`), every variant cut where track 0 is.
/// A layout change starts a new
/// segment series that appends to the same playlist after an `EXT-X-DISCONTINUITY`.
/// One writer per channel *session*: a publisher that reconnects or replaces another continues
/// the playlist (media sequence counting on, `EXT-X-DISCONTINUITY` before its first segment).
/// Segment names carry the session, so a later session writing into the same directory never
/// collides with, or deletes, an earlier one's files. Once a newer session of the
/// channel owns the directory (a replacing publisher), this one stops touching the shared
/// playlist: no more segments, and no final playlist with `EXT-X-ENDLIST`, which would tell
/// players the live stream had ended.
final class HLSWriter: MediaWriter {
    struct Settings: Sendable {
        var segmentSeconds: Double = 2
        var listSize: Int = 6
        /// After the session the ended playlist (with `EXT-X-ENDLIST`) and its segments stay
        /// this long, so players finish instead of meeting a 404 (`hls.keepAfterEndSec`).
        var keepAfterEnd: Double = 60
        /// The media sequence number of the first segment, for a session continued from
        /// another writer (another node, or this node's previous run); nil: 0.
        var startNumber: Int?
        var segmentFormat: SegmentFormat = .auto
        /// Who writes MPEG-TS series of H.264 and AAC: LiveGate (`MPEGTSSegmenter`), or — for
        /// tests that compare the two — libavformat's `hls` muxer, as before.
        var mpegTSWriter: MPEGTSWriter = .livegate
    }

    enum MPEGTSWriter: Sendable { case livegate, libavformat }

    /// `hls.segmentFormat`.
    enum SegmentFormat: String, Sendable, CaseIterable {
        /// fMP4 when a track needs it (`needsFMP4`), else MPEG-TS: decided per session.
        case auto, mpegts, fmp4
    }

    /// Codecs for which MPEG-TS is the wrong container: AV1, VP9 and FLAC have no MPEG-TS
    /// binding libavformat 5.1 writes (players see unknown data), Apple players take HEVC and
    /// Opus from fMP4 only.
    static let needsFMP4: Set<MediaCodec> = [.hevc, .av1, .vp9, .opus, .flac]
    /// What an MPEG-TS segment cannot carry at all (left out, and named, when `mpegts` is forced).
    static let notInMPEGTS: Set<MediaCodec> = [.av1, .vp9, .flac]

    let directory: String
    private let prefix: String
    private let settings: Settings
    private let interrupt: InterruptFlag
    /// Does this session still own the directory (no newer publisher of the channel)?
    private let ownsDirectory: @Sendable () -> Bool
    /// Asked at the end: the same, giving the directory up if so.
    private let releaseDirectory: @Sendable () -> Bool
    /// Whether no session owns the directory now (asked when the kept files go).
    private let directoryIsFree: @Sendable () -> Bool
    /// Runs the removal of the kept files later (injected: tests run it at once).
    private let schedule: @Sendable (Double, @escaping @Sendable () -> Void) -> Void
    private var superseded = false
    /// Set when the session is handed over (a node stopping): its playlist stays as it is — no
    /// `EXT-X-ENDLIST`, nothing removed — for the session's continuation (docs/contract.md §6).
    private let handedOver: NIOLockedValueBox<Bool>
    private var renditions: [HLSRendition] = []
    /// Our segmenter's playlists by file name, kept across the session's series so each
    /// continues where the last one stopped (libavformat re-read its file: `append_list`).
    private var playlists: [String: (model: HLSMediaPlaylist, file: PlaylistFile)] = [:]
    private var generation = 0
    /// Decided at the session's first layout and kept: players that loaded a multivariant
    /// playlist must not find a media playlist at the same URL later, nor the reverse.
    private var adaptive: Bool?
    private var fmp4 = false
    private var master: HLSMasterPlaylist?
    private(set) var notCarried: [String] = []
    /// Packets not written because their payload was malformed (counted over the writer's life).
    private(set) var malformedPackets = 0
    /// Recent decode times of track 0's keyframes: the cut points other variants follow.
    private var primaryKeyframes: [Int64] = []

    init(directory: String, prefix: String, settings: Settings, interrupt: InterruptFlag, handedOver: NIOLockedValueBox<Bool> = NIOLockedValueBox(false),
         ownsDirectory: @escaping @Sendable () -> Bool = { true }, releaseDirectory: @escaping @Sendable () -> Bool,
         directoryIsFree: @escaping @Sendable () -> Bool = { true },
         schedule: @escaping @Sendable (Double, @escaping @Sendable () -> Void) -> Void = HLSWriter.afterDelay) {
        self.directoryIsFree = directoryIsFree
        self.handedOver = handedOver
        self.schedule = schedule
        self.ownsDirectory = ownsDirectory
        self.directory = directory
        self.prefix = prefix
        self.settings = settings
        self.interrupt = interrupt
        self.releaseDirectory = releaseDirectory
    }

    var playlistPath: String { directory + "/index.m3u8" }

    /// Segment names carry the session (`s` + 12 characters of its id), the writing node's tag
    /// (`NodeTag`: which node to fetch it from), this run's tag, then a generation per layout
    /// or connection: `sSESSION-NODETAG-RUN-GEN-NNNNN.ts`. No name is reused within a
    /// channel's folder, across nodes sharing storage or across a restart.
    static func prefix(sessionId: String, nodeTag: String, runTag: String) -> String {
        "s" + String(sessionId.replacingOccurrences(of: "ses_", with: "").prefix(12)) + "-" + nodeTag + "-" + runTag
    }

    static func makeRunTag() -> String {
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz")
        return String((0..<4).map { _ in alphabet[Int.random(in: 0..<alphabet.count)] })
    }

    /// The first media sequence number for a writer that continues a session another writer
    /// began (docs/contract.md §7, "Files on several nodes"): players must see the sequence go
    /// on, never back. The earlier writers' numbers cannot be read (their node may be dead), but
    /// they are bounded: a segment is cut (by our segmenter as by libavformat) when the series
    /// reaches the next multiple of the target duration, so a series holds at most `elapsed / segmentSeconds + 1`
    /// segments, and a session has one series per connection or layout change. Past that
    /// bound, with a margin of 1000 series, no number repeats; a player just sees a jump
    /// after the `EXT-X-DISCONTINUITY`.
    static func continuationStart(sessionStartedAt: Date, now: Date, segmentSeconds: Double) -> Int {
        let elapsed = max(0, now.timeIntervalSince(sessionStartedAt))
        return Int((elapsed / max(segmentSeconds, 0.1)).rounded(.up)) + 1000
    }

    func open(_ layout: StreamLayout) throws(AVFailure) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw AVFailure("mkdir \(directory)", message: "\(error)")
        }
        // A multivariant playlist needs a video variant: several audio tracks without video stay
        // one media playlist (MPEG-TS and fMP4 carry several audio streams).
        let isAdaptive = adaptive ?? (layout.videoTracks.count > 1 || (layout.audioTracks.count > 1 && !layout.videoTracks.isEmpty))
        adaptive = isAdaptive
        switch settings.segmentFormat {
        case .fmp4: fmp4 = true
        case .mpegts: fmp4 = false
        case .auto: fmp4 = layout.tracks.contains { Self.needsFMP4.contains($0.codec) }
        }
        let carried = layout.projected { fmp4 || !Self.notInMPEGTS.contains($0.codec) }
        notCarried = carried.dropped.map { "\($0.label): MPEG-TS cannot carry it (hls.segmentFormat fmp4 or auto)" }
        guard !carried.layout.tracks.isEmpty else {
            throw AVFailure("hls open", message: "no track HLS can carry (\(notCarried.joined(separator: "; ")))")
        }
        // omit_endlist: a segment series ends (a new connection, a new layout) without telling
        // players the stream is over — the next series appends after a discontinuity. When the
        // session ends, `close` adds EXT-X-ENDLIST itself.
        // No `temp_file`: libavformat writes a live playlist through a temporary file and a
        // rename whatever the flag says, and a segment is listed only once it is complete, so
        // no player reaches a partial one; the flag only added a second rename per segment
        // (docs/architecture.md "Output threads").
        var flags = ["delete_segments", "independent_segments", "omit_endlist"]
        if generation > 0 { flags += ["append_list", "discont_start"] }
        // A continued session's first series: a fresh playlist, numbered past the earlier
        // writers', starting with a discontinuity (players reset their decoders there).
        var options: [String: String] = [
            "hls_time": String(settings.segmentSeconds),
            "hls_list_size": String(settings.listSize),
            "hls_segment_type": fmp4 ? "fmp4" : "mpegts",
        ]
        if generation == 0, let first = settings.startNumber {
            flags += ["discont_start"]
            options["start_number"] = String(first)
        }
        options["hls_flags"] = flags.joined(separator: "+")
        let series = "\(prefix)-\(generation)"
        let ext = fmp4 ? "m4s" : "ts"
        var plans: [(name: String, playlist: String, projection: TrackProjection)] = []
        if isAdaptive {
            for track in carried.layout.tracks {
                let name = (track.kind == .video ? "v" : "a") + String(track.trackId)
                let projection = layout.projected { $0 == track }
                plans.append((name, name + ".m3u8", projection))
            }
        } else {
            plans.append(("", "index.m3u8", carried))
        }
        var opened: [HLSRendition] = []
        for plan in plans {
            let stem = plan.name.isEmpty ? series : series + "-" + plan.name
            let separator = plan.name.isEmpty ? "-" : "_"
            if !fmp4, settings.mpegTSWriter == .livegate,
               case let kept = playlist(plan.playlist),
               let segmenter = MPEGTSSegmenter(layout: plan.projection.layout, playlist: kept.model,
                                               configuration: .init(directory: directory, stem: stem, separator: separator, playlistFile: kept.file,
                                                                    segmentSeconds: settings.segmentSeconds,
                                                                    discontinuityFirst: generation > 0 || settings.startNumber != nil)) {
                opened.append(HLSRendition(name: plan.name, playlist: plan.playlist, projection: plan.projection, output: .mpegts(segmenter),
                                           track: plan.projection.layout.tracks[0]))
                continue
            }
            // libavformat writes this series: a later series of ours continues from its file.
            playlists[plan.playlist] = nil
            var o = options
            o["hls_segment_filename"] = "\(directory)/\(stem)\(separator)%05d.\(ext)"
            if fmp4 { o["hls_fmp4_init_filename"] = "\(stem)\(separator)init.mp4" }
            let m = try MediaMuxer(format: "hls", url: directory + "/" + plan.playlist, layout: plan.projection.layout, interrupt: interrupt,
                                   mpegTSFraming: !fmp4)
            try m.open(muxerOptions: o)
            opened.append(HLSRendition(name: plan.name, playlist: plan.playlist, projection: plan.projection, output: .libavformat(m),
                                       track: plan.projection.layout.tracks[0]))
        }
        renditions = opened
        renditionPlaylists = Array(Set(renditionPlaylists + plans.map { directory + "/" + $0.playlist })).sorted()
        master = nil
        primaryKeyframes = []
        generation += 1
    }

    /// The playlist our segmenter continues: its own from an earlier series of the session, the
    /// file libavformat wrote for one (as `append_list` read it), or a new one — numbered from
    /// `startNumber` for a continued session's first series (as `start_number` did).
    private func playlist(_ name: String) -> (model: HLSMediaPlaylist, file: PlaylistFile) {
        if let kept = playlists[name] { return kept }
        let made: HLSMediaPlaylist
        if generation > 0, let text = try? String(contentsOfFile: directory + "/" + name, encoding: .utf8),
           let continued = HLSMediaPlaylist(continuing: text, segmentSeconds: settings.segmentSeconds, listSize: settings.listSize) {
            made = continued
        } else {
            made = HLSMediaPlaylist(firstSequence: generation == 0 ? settings.startNumber ?? 0 : 0,
                                    segmentSeconds: settings.segmentSeconds, listSize: settings.listSize)
        }
        let kept = (made, PlaylistFile(path: directory + "/" + name))
        playlists[name] = kept
        return kept
    }

    func write(_ packet: MediaPacket) throws(AVFailure) {
        guard !renditions.isEmpty else { throw AVFailure("hls write", message: "not open") }
        // Checked where a segment may be cut: from there on the newer session writes the playlist.
        if packet.kind == .video && packet.track == 0 && packet.isKeyframe && !superseded && !ownsDirectory() { superseded = true }
        if superseded { return }
        if packet.kind == .video && packet.track == 0 && packet.isKeyframe {
            primaryKeyframes.append(packet.dts)
            if primaryKeyframes.count > 8 { primaryKeyframes.removeFirst() }
        }
        for i in renditions.indices {
            guard var mapped = renditions[i].projection.map(packet) else { continue }
            if adaptive == true, packet.kind == .video, packet.track != 0 {
                // A variant is cut where track 0 is: its keyframe counts as one only when track 0
                // has a keyframe within a frame of it, or at its first keyframe after a track-0
                // keyframe it did not match (an unaligned rendition: its own next keyframe).
                guard renditions[i].started || packet.isKeyframe else { continue }
                if packet.isKeyframe { mapped.isKeyframe = renditions[i].cutEligible(packet.dts, primaryKeyframes: primaryKeyframes) }
            }
            if try !renditions[i].write(mapped, packet: packet) { malformedPackets += 1 }
        }
        if adaptive == true { try updateMaster() }
    }

    /// Writes (and, as the measured bit rates grow, rewrites) `index.m3u8` once every variant
    /// has a first segment's worth of media (docs/contract.md §3, "Several tracks").
    private func updateMaster() throws(AVFailure) {
        let ready = renditions.allSatisfy { $0.measuredMs >= Int64(settings.segmentSeconds * 1000) || $0.track.kind == .audio }
        guard ready else { return }
        let audio = renditions.filter { $0.track.kind == .audio }
        let audioPeak = audio.map(\.peakBitsPerSecond).max() ?? 0
        let audioAverage = audio.map(\.averageBitsPerSecond).max() ?? 0
        let audioCodecs = Array(Set(audio.compactMap { CodecString.of($0.track) })).sorted()
        let variants = renditions.filter { $0.track.kind == .video }.map { r in
            HLSMasterPlaylist.Variant(uri: r.playlist, bandwidth: max(r.peakBitsPerSecond, r.averageBitsPerSecond) + max(audioPeak, audioAverage),
                                      averageBandwidth: r.averageBitsPerSecond + audioAverage,
                                      width: r.track.width, height: r.track.height, frameRate: r.frameRate,
                                      codecs: [CodecString.of(r.track)].compactMap { $0 } + audioCodecs, videoRange: r.track.videoRange)
        }
        let renditionsOfAudio = audio.enumerated().map { i, r in
            HLSMasterPlaylist.AudioRendition(uri: r.playlist, name: r.track.language.map { "\($0) (audio \(r.track.trackId))" } ?? "audio \(r.track.trackId)",
                                             language: r.track.language, channels: r.track.channels, isDefault: i == 0)
        }
        var next = HLSMasterPlaylist(variants: variants, audio: renditionsOfAudio, version: fmp4 ? 7 : 3)
        if let current = master {
            // Rewritten only when a variant's peak grew by more than a tenth: players re-read it rarely.
            let grew = zip(current.variants, next.variants).contains { Double($1.bandwidth) > Double($0.bandwidth) * 1.1 }
            guard grew || current.variants.count != next.variants.count else { return }
            next.variants = zip(current.variants, next.variants).map { old, new in
                var v = new
                v.bandwidth = max(old.bandwidth, new.bandwidth)
                return v
            }
        }
        master = next
        Self.writeAtomically(next.render(), to: playlistPath)
    }

    /// Every media playlist of a channel's folder gets `#EXT-X-ENDLIST` — `index.m3u8` of a
    /// classic session, each variant's and rendition's of an adaptive one (a multivariant
    /// playlist has none to get).
    static func endMediaPlaylists(in directory: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasSuffix(".m3u8") {
            let path = directory + "/" + name
            guard let text = try? String(contentsOfFile: path, encoding: .utf8), !text.contains("#EXT-X-STREAM-INF") else { continue }
            appendEndList(path)
        }
    }

    /// Written to a temporary file and renamed: a player never reads half of it.
    /// Its own temporary name (`NAME.next`), not `PlaylistFile`'s spare (`NAME.tmp`): the spare
    /// is the playlist a player may have opened just before the last segment's swap, and the
    /// `EXT-X-ENDLIST` written right after that swap truncated it under the reader (a benchmark
    /// read a playlist with no segment at a session's end).
    static func writeAtomically(_ text: String, to path: String) {
        let temporary = path + ".next"
        do {
            try text.write(toFile: temporary, atomically: false, encoding: .utf8)
            _ = rename(temporary, path)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
        }
    }

    func finish() throws(AVFailure) {
        defer { renditions = [] }
        // The trailer rewrites the playlist with ENDLIST: only while the directory is ours.
        guard !superseded, ownsDirectory() else { return }
        var failure: AVFailure?
        for r in renditions {
            do throws(AVFailure) { try r.output.finish() } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
    }

    /// The media playlists this writer keeps (all of them, for an adaptive session).
    private var mediaPlaylists: [String] {
        adaptive == true ? renditionPlaylists : [playlistPath]
    }
    private var renditionPlaylists: [String] = []

    /// Adds `#EXT-X-ENDLIST` to a finished playlist (written to a temporary file and renamed,
    /// so a player never reads half of it).
    static func appendEndList(_ path: String) {
        guard var text = try? String(contentsOfFile: path, encoding: .utf8), !text.contains("#EXT-X-ENDLIST") else { return }
        if !text.hasSuffix("\n") { text += "\n" }
        text += "#EXT-X-ENDLIST\n"
        writeAtomically(text, to: path)
    }

    static let afterDelay: @Sendable (Double, @escaping @Sendable () -> Void) -> Void = { seconds, work in
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: work)
    }

    func abort() { renditions = [] }


    /// After the session: the ended playlist and this session's segments stay `keepAfterEnd`
    /// seconds, then go (docs/api.md, "Playback"). The directory itself goes only if no newer
    /// session of the channel has started writing into it meanwhile; that one's files are never
    /// touched.
    func close() {
        renditions = []
        let owned = releaseDirectory()
        // Handed over: players keep polling a playlist that has not ended; the continuation
        // (here after a restart, or on another node) writes the next series after a discontinuity.
        if handedOver.withLockedValue({ $0 }) { return }
        // The session is over (a segment series also finishes at a new connection or layout,
        // so not in `finish`): players that reach the end stop there instead of waiting.
        if owned && !superseded {
            for path in mediaPlaylists { Self.appendEndList(path) }
            // The spares our playlists swapped names with (`PlaylistFile`); ENDLIST's rename
            // above has usually taken them already.
            for kept in playlists.values { kept.file.removeSpare() }
        }
        let directory = directory, prefix = prefix, isFree = directoryIsFree
        let remove: @Sendable () -> Void = {
            let fm = FileManager.default
            if owned && isFree() {
                try? fm.removeItem(atPath: directory)
                return
            }
            for name in (try? fm.contentsOfDirectory(atPath: directory)) ?? [] where name.hasPrefix(prefix + "-") {
                try? fm.removeItem(atPath: directory + "/" + name)
            }
        }
        // A superseded session's playlist is the newer one's: its own segments go at once.
        if owned && settings.keepAfterEnd > 0 { schedule(settings.keepAfterEnd, remove) } else { remove() }
    }
}
