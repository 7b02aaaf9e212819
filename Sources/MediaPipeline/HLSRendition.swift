import RTMPCore

/// One media playlist of an HLS session: all tracks (a classic session), or one track of an
/// adaptive one (a video variant, an audio rendition). Owns what writes its segments and measures
/// what the multivariant playlist says of it: peak and average bit rate, frame rate.
struct HLSRendition {
    let name: String
    /// File name in the channel's folder (`index.m3u8`, `v1.m3u8`, `a0.m3u8`).
    let playlist: String
    let projection: TrackProjection
    let output: HLSSegmentOutput
    /// The track it carries (the first, for a classic session).
    let track: TrackFormat
    /// A variant writes nothing before its own first keyframe.
    private(set) var started = false
    private var lastMatchedPrimary: Int64 = .min
    private var totalBytes = 0
    private var firstDts: Int64?
    private var lastDts: Int64 = 0
    private var frames = 0
    private var windowStart: Int64?
    private var windowBytes = 0
    private(set) var peakBitsPerSecond = 0

    init(name: String, playlist: String, projection: TrackProjection, output: HLSSegmentOutput, track: TrackFormat) {
        self.name = name
        self.playlist = playlist
        self.projection = projection
        self.output = output
        self.track = track
    }

    /// Milliseconds of media written.
    var measuredMs: Int64 { firstDts.map { lastDts - $0 } ?? 0 }

    var averageBitsPerSecond: Int {
        measuredMs > 0 ? Int(Double(totalBytes) * 8000 / Double(measuredMs)) : peakBitsPerSecond
    }

    var frameRate: Double? {
        guard track.kind == .video, frames > 1, measuredMs > 0 else { return nil }
        return Double(frames - 1) * 1000 / Double(measuredMs)
    }

    /// Whether this variant's keyframe at `dts` may start a segment: when track 0 has a
    /// keyframe within one frame of it, or — for a rendition whose keyframes do not line up —
    /// at its first keyframe after a track-0 keyframe it has not matched yet.
    mutating func cutEligible(_ dts: Int64, primaryKeyframes: [Int64]) -> Bool {
        let frame = Int64((frameRate.map { 1000 / $0 } ?? 40).rounded(.up))
        if let match = primaryKeyframes.last(where: { abs($0 - dts) <= frame }) {
            lastMatchedPrimary = max(lastMatchedPrimary, match)
            return true
        }
        if let last = primaryKeyframes.last, last > lastMatchedPrimary, last < dts {
            lastMatchedPrimary = last
            return true
        }
        return false
    }

    /// Writes `mapped` (renumbered into this rendition) and measures the original.
    /// False for a packet the muxer refused as malformed (`MediaMuxer.write`).
    mutating func write(_ mapped: MediaPacket, packet: MediaPacket) throws(AVFailure) -> Bool {
        // Video before the variant's first keyframe cannot be decoded: not written. Audio
        // before it is, but does not start the variant (it did, letting the rest of a GOP in
        // after a reconnect that began mid-GOP).
        if track.kind == .video, !started, packet.kind == .video {
            guard packet.isKeyframe else { return true }
        }
        if packet.kind == track.kind { started = true }
        guard try output.write(mapped) else { return false }
        let bytes = packet.data.readableBytes
        totalBytes += bytes
        frames += 1
        if firstDts == nil { firstDts = packet.dts }
        lastDts = max(lastDts, packet.dts)
        // Peak over windows of 2 s of stream time (about a segment): what a player must sustain.
        let start = windowStart ?? packet.dts
        windowStart = start
        windowBytes += bytes
        if packet.dts - start >= 2000 {
            peakBitsPerSecond = max(peakBitsPerSecond, Int(Double(windowBytes) * 8000 / Double(packet.dts - start)))
            windowStart = packet.dts
            windowBytes = 0
        }
        return true
    }
}
