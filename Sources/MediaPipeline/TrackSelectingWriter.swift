import RTMPCore

/// Puts an output's track choice in front of its writer: the writer opens with the tracks
/// `select` keeps and receives only their packets, renumbered. What it leaves out is named in
/// `notCarried` (the output's status) and logged by the worker — an output never drops a
/// track silently (docs/contract.md §3, "Several tracks").
final class TrackSelectingWriter: MediaWriter {
    private let inner: any MediaWriter
    private let select: (StreamLayout) -> (kept: TrackProjection, reasons: [String])
    private var projection: TrackProjection?
    private(set) var notCarried: [String] = []

    init(_ inner: any MediaWriter, select: @escaping (StreamLayout) -> (kept: TrackProjection, reasons: [String])) {
        self.inner = inner
        self.select = select
    }

    var resumesInPlace: Bool { inner.resumesInPlace }

    func open(_ layout: StreamLayout) throws(AVFailure) {
        let (kept, reasons) = select(layout)
        projection = kept
        notCarried = reasons
        guard !kept.layout.tracks.isEmpty else {
            throw AVFailure("open", message: "no track this output can carry (\(reasons.joined(separator: "; ")))")
        }
        try inner.open(kept.layout)
    }

    func write(_ packet: MediaPacket) throws(AVFailure) {
        guard let mapped = projection?.map(packet) else { return }
        try inner.write(mapped)
    }

    func finish() throws(AVFailure) { try inner.finish() }
    func abort() { inner.abort() }
    func close() { inner.close() }

    /// A plain RTMP target (libavformat 5.1's FLV muxer, no Enhanced RTMP): the default video
    /// and audio tracks, in the codecs classic FLV has ids for.
    static func plainRTMP(_ layout: StreamLayout) -> (kept: TrackProjection, reasons: [String]) {
        let defaults = layout.defaultTracks
        var reasons = defaults.dropped.map { "\($0.label): a plain RTMP target takes track 0 only (mark the forward enhanced for every track)" }
        let carried: Set<MediaCodec> = [.h264, .aac, .mp3]
        let kept = defaults.layout.projected { carried.contains($0.codec) }
        reasons += kept.dropped.map { "\($0.label): classic FLV has no codec id for it (needs an Enhanced RTMP forward)" }
        // Renumber against the full layout: compose the two maps.
        let map = defaults.indexMap.map { $0.flatMap { kept.indexMap[$0] } }
        return (TrackProjection(layout: kept.layout, indexMap: map, dropped: defaults.dropped + kept.dropped), reasons)
    }
}
