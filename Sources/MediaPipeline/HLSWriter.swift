import Foundation
import NIOConcurrencyHelpers

/// docs/contract.md §3 `hls`: MPEG-TS segments cut on keyframes (libavformat's `hls` muxer, 2 s target,
/// 6-segment rolling window) under `data/hls/CHANNEL_ID/`. A layout change starts a new
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
    }

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
    private var muxer: MediaMuxer?
    private var generation = 0

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
    /// they are bounded: libavformat cuts a segment when the stream reaches the next multiple
    /// of the target duration, so a series holds at most `elapsed / segmentSeconds + 1`
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
        // omit_endlist: a segment series ends (a new connection, a new layout) without telling
        // players the stream is over — the next series appends after a discontinuity. When the
        // session ends, `close` adds EXT-X-ENDLIST itself.
        var flags = ["delete_segments", "independent_segments", "temp_file", "omit_endlist"]
        if generation > 0 { flags += ["append_list", "discont_start"] }
        // A continued session's first series: a fresh playlist, numbered past the earlier
        // writers', starting with a discontinuity (players reset their decoders there).
        var startNumber: [String: String] = [:]
        if generation == 0, let first = settings.startNumber {
            flags += ["discont_start"]
            startNumber = ["start_number": String(first)]
        }
        let m = try MediaMuxer(format: "hls", url: playlistPath, layout: layout, interrupt: interrupt)
        try m.open(muxerOptions: [
            "hls_time": String(settings.segmentSeconds),
            "hls_list_size": String(settings.listSize),
            "hls_flags": flags.joined(separator: "+"),
            "hls_segment_type": "mpegts",
            "hls_segment_filename": "\(directory)/\(prefix)-\(generation)-%05d.ts",
        ].merging(startNumber) { $1 })
        muxer = m
        generation += 1
    }

    func write(_ packet: MediaPacket) throws(AVFailure) {
        guard let muxer else { throw AVFailure("hls write", message: "not open") }
        // Checked where a segment may be cut: from there on the newer session writes the playlist.
        if packet.kind == .video && packet.isKeyframe && !superseded && !ownsDirectory() { superseded = true }
        if superseded { return }
        try muxer.write(packet)
    }

    func finish() throws(AVFailure) {
        defer { muxer = nil }
        // The trailer rewrites the playlist with ENDLIST: only while the directory is ours.
        guard !superseded, ownsDirectory() else { return }
        try muxer?.finish()
    }

    /// Adds `#EXT-X-ENDLIST` to a finished playlist (written to a temporary file and renamed,
    /// so a player never reads half of it).
    static func appendEndList(_ path: String) {
        guard var text = try? String(contentsOfFile: path, encoding: .utf8), !text.contains("#EXT-X-ENDLIST") else { return }
        if !text.hasSuffix("\n") { text += "\n" }
        text += "#EXT-X-ENDLIST\n"
        let temporary = path + ".end.tmp"
        do {
            try text.write(toFile: temporary, atomically: false, encoding: .utf8)
            _ = rename(temporary, path)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
        }
    }

    static let afterDelay: @Sendable (Double, @escaping @Sendable () -> Void) -> Void = { seconds, work in
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: work)
    }

    func abort() { muxer = nil }


    /// After the session: the ended playlist and this session's segments stay `keepAfterEnd`
    /// seconds, then go (docs/api.md, "Playback"). The directory itself goes only if no newer
    /// session of the channel has started writing into it meanwhile; that one's files are never
    /// touched.
    func close() {
        muxer = nil
        let owned = releaseDirectory()
        // Handed over: players keep polling a playlist that has not ended; the continuation
        // (here after a restart, or on another node) writes the next series after a discontinuity.
        if handedOver.withLockedValue({ $0 }) { return }
        // The session is over (a segment series also finishes at a new connection or layout,
        // so not in `finish`): players that reach the end stop there instead of waiting.
        if owned && !superseded { Self.appendEndList(playlistPath) }
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
