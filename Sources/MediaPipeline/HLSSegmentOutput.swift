/// What writes an HLS rendition's segments and playlist: LiveGate's own MPEG-TS segmenter for
/// H.264 and AAC, libavformat's `hls` muxer for everything else (fMP4 segments, and codecs our
/// segmenter does not lay out). docs/architecture.md "Output threads".
enum HLSSegmentOutput {
    case mpegts(MPEGTSSegmenter)
    case libavformat(MediaMuxer)

    /// False for a packet refused as malformed (not written).
    func write(_ packet: MediaPacket) throws(AVFailure) -> Bool {
        switch self {
        case .mpegts(let segmenter): try segmenter.write(packet)
        case .libavformat(let muxer): try muxer.write(packet)
        }
    }

    func finish() throws(AVFailure) {
        switch self {
        case .mpegts(let segmenter): try segmenter.finish()
        case .libavformat(let muxer): try muxer.finish()
        }
    }
}
