import Foundation

/// A live media playlist (RFC 8216 §4.3.3) as `MPEGTSSegmenter` keeps it: the last `listSize`
/// segments, the media sequence number of the first, discontinuities, and which segment files
/// have left the window and may go (docs/contract.md §3 `hls`). It outlives one segment series:
/// the writer keeps one per playlist for the whole session, so a new connection or layout
/// appends to it after an `EXT-X-DISCONTINUITY`, the sequence counting on.
///
/// What it writes is what libavformat's `hls` muxer wrote for LiveGate (same tags, `EXTINF`
/// with six decimals), plus `EXT-X-DISCONTINUITY-SEQUENCE` once a discontinuity has left the
/// window — players need it to line variants up across discontinuities; libavformat never wrote
/// it. The target duration never goes down within a playlist (RFC 8216 §6.2.1: it must not
/// change), and every listed duration, rounded to the nearest integer, is within it.
final class HLSMediaPlaylist {
    struct Entry: Equatable {
        var uri: String
        var duration: Double
        var discontinuity: Bool
        /// Tags before the entry this writer does not make (an `EXT-X-MAP` in a playlist
        /// libavformat wrote and this one continues), kept as they were.
        var otherTags: [String] = []
    }

    let listSize: Int
    private(set) var entries: [Entry] = []
    /// The media sequence number of `entries[0]` (of the next segment while empty).
    private(set) var mediaSequence: Int
    private(set) var discontinuitySequence = 0
    private(set) var targetDuration: Int
    /// Files that left the window, oldest first. Each stays `keptPastWindow` segments — the
    /// playlist's length plus one: RFC 8216 §6.2.2 keeps a segment available for its own
    /// duration plus the playlist's after it leaves, for a player that read the playlist just
    /// before — then becomes a new segment's file (`reusableFile`), or is removed if none takes it.
    private var leftWindow: [String] = []
    var keptPastWindow: Int { listSize + 1 }

    init(firstSequence: Int, segmentSeconds: Double, listSize: Int) {
        mediaSequence = firstSequence
        self.listSize = max(1, listSize)
        targetDuration = max(1, Self.rounded(segmentSeconds))
    }

    /// The media sequence number the next segment gets (its file is numbered with it).
    var nextSequence: Int { mediaSequence + entries.count }

    /// Adds a finished segment; returns the segment files to remove now.
    func append(_ entry: Entry) -> [String] {
        entries.append(entry)
        targetDuration = max(targetDuration, Self.rounded(entry.duration))
        var remove: [String] = []
        while entries.count > listSize {
            let gone = entries.removeFirst()
            mediaSequence += 1
            if gone.discontinuity { discontinuitySequence += 1 }
            leftWindow.append(gone.uri)
        }
        while leftWindow.count > keptPastWindow { remove.append(leftWindow.removeFirst()) }
        return remove
    }

    /// The oldest file that has been out of the playlist for `keptPastWindow` segments, handed
    /// to the next segment (renamed to its name and written again) instead of being removed;
    /// nil while none has waited that long. Taken: no longer this playlist's to remove.
    func reusableFile() -> String? {
        guard leftWindow.count >= keptPastWindow else { return nil }
        return leftWindow.removeFirst()
    }

    /// Rounded to the nearest integer, halves up (RFC 8216 §4.3.3.1's rounding).
    static func rounded(_ seconds: Double) -> Int { Int((seconds + 0.5).rounded(.down)) }

    func render() -> String {
        var text = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:\(targetDuration)\n#EXT-X-MEDIA-SEQUENCE:\(mediaSequence)\n"
        if discontinuitySequence > 0 { text += "#EXT-X-DISCONTINUITY-SEQUENCE:\(discontinuitySequence)\n" }
        text += "#EXT-X-INDEPENDENT-SEGMENTS\n"
        for entry in entries {
            if entry.discontinuity { text += "#EXT-X-DISCONTINUITY\n" }
            for tag in entry.otherTags { text += tag + "\n" }
            text += "#EXTINF:" + Self.sixDecimals(entry.duration) + ",\n" + entry.uri + "\n"
        }
        return text
    }

    /// `%f`'s spelling (six decimals), without going through `String(format:)`.
    static func sixDecimals(_ value: Double) -> String {
        let micros = Int64((max(0, value) * 1_000_000).rounded())
        let fraction = String(micros % 1_000_000)
        return String(micros / 1_000_000) + "." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }

    /// A playlist another writer left in the folder (libavformat's, for a series it wrote
    /// earlier in the session), continued as libavformat's `append_list` did: its window, media
    /// sequence and target duration. nil when the text is not a media playlist.
    init?(continuing text: String, segmentSeconds: Double, listSize: Int) {
        self.listSize = max(1, listSize)
        targetDuration = max(1, Self.rounded(segmentSeconds))
        mediaSequence = 0
        guard text.hasPrefix("#EXTM3U"), !text.contains("#EXT-X-STREAM-INF") else { return nil }
        var duration: Double?
        var discontinuity = false
        var other: [String] = []
        for line in text.split(whereSeparator: \.isNewline).map(String.init) {
            if line.hasPrefix("#EXT-X-MEDIA-SEQUENCE:") {
                mediaSequence = Int(line.dropFirst(22)) ?? 0
            } else if line.hasPrefix("#EXT-X-DISCONTINUITY-SEQUENCE:") {
                discontinuitySequence = Int(line.dropFirst(30)) ?? 0
            } else if line.hasPrefix("#EXT-X-TARGETDURATION:") {
                targetDuration = max(targetDuration, Int(line.dropFirst(22)) ?? 0)
            } else if line.hasPrefix("#EXTINF:") {
                duration = Double(line.dropFirst(8).prefix { $0 != "," }) ?? 0
            } else if line == "#EXT-X-DISCONTINUITY" {
                discontinuity = true
            } else if line.hasPrefix("#EXT-X-MAP:") || line.hasPrefix("#EXT-X-PROGRAM-DATE-TIME:") {
                other.append(line)
            } else if !line.hasPrefix("#"), let d = duration {
                entries.append(Entry(uri: line, duration: d, discontinuity: discontinuity, otherTags: other))
                duration = nil
                discontinuity = false
                other = []
            }
        }
    }
}
