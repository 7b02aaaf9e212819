import Foundation
import NIOCore
import RTMPCore

/// docs/contract.md §3 `forwards` with `enhanced: true`: re-publishes every track, in every codec
/// LiveGate takes, as Enhanced RTMP v2 — FourCC packets for HEVC, AV1, VP9, Opus, FLAC, AC-3 …,
/// a `Multitrack`/`OneTrack` packet per track other than 0 — through LiveGate's own FLV tag
/// writer and RTMP client (`FLVTagWriter`, `RTMPPushConnection`): Debian 12's libavformat writes
/// no Enhanced FLV. Blocking calls are bounded by `forwards.timeoutSec`, like the plain pusher.
/// `rtmps://` targets are not supported by this writer yet (the plain one does TLS): refused,
/// named in the output's status.
final class EnhancedRTMPPusher: MediaWriter {
    var resumesInPlace: Bool { true }

    let url: String
    private let timeoutSeconds: Double
    private let hostCheck: (@Sendable (String) -> String?)?
    private var connection: RTMPPushConnection?
    private var target: RTMPPushConnection.Target?
    private var layout: StreamLayout?
    private var offset: Int64?
    private var written = 0

    init(url: String, timeoutSeconds: Double, hostCheck: (@Sendable (String) -> String?)? = nil) {
        self.url = url
        self.timeoutSeconds = timeoutSeconds
        self.hostCheck = hostCheck
    }

    private(set) var notCarried: [String] = []

    func open(_ layout: StreamLayout) throws(AVFailure) {
        guard let target = RTMPPushConnection.Target(url: url) else {
            throw AVFailure("enhanced forward", message: url.lowercased().hasPrefix("rtmps://")
                            ? "rtmps:// is not supported by the Enhanced RTMP writer yet (use rtmp://, or a plain forward)"
                            : "not an rtmp://host/app/key URL")
        }
        if let hostCheck, let refusal = hostCheck(target.host) { throw AVFailure("forward connect", message: refusal) }
        notCarried = layout.tracks.filter { FLVTagWriter.fourCC($0.codec) == nil }.map { "\($0.label): Enhanced RTMP has no FourCC for it" }
        let connection = try RTMPPushConnection(target: target, timeout: timeoutSeconds)
        let codecs = Array(Set(layout.tracks.compactMap { FLVTagWriter.fourCC($0.codec).map { String(decoding: $0, as: UTF8.self) } })).sorted()
        try connection.publish(target, fourCcList: codecs)
        self.connection = connection
        self.target = target
        self.layout = layout
        offset = nil
        written = 0
        try sendSequenceStarts(at: 0)
    }

    /// Every track's sequence start (what a receiver needs before the first frame).
    private func sendSequenceStarts(at timestamp: UInt32) throws(AVFailure) {
        guard let connection, let layout else { return }
        for track in layout.tracks {
            let body: ByteBuffer? = track.kind == .video
                ? FLVTagWriter.videoSequenceStart(codec: track.codec, trackId: track.trackId, record: track.extradata)
                : FLVTagWriter.audioSequenceStart(codec: track.codec, trackId: track.trackId, header: track.extradata)
            guard let body else { continue }
            try connection.write(RTMPMessage(chunkStreamID: track.kind == .video ? 6 : 4, timestamp: timestamp,
                                             typeID: track.kind == .video ? .video : .audio, streamID: connection.streamID, payload: body))
        }
    }

    func write(_ packet: MediaPacket) throws(AVFailure) {
        guard let connection, let layout, packet.track < layout.tracks.count else { throw AVFailure("enhanced forward write", message: "not open") }
        let track = layout.tracks[packet.track]
        let base = offset ?? packet.dts
        offset = base
        let timestamp = UInt32(truncatingIfNeeded: max(0, packet.dts - base))
        let body: ByteBuffer? = track.kind == .video
            ? FLVTagWriter.videoFrame(codec: track.codec, trackId: track.trackId, keyframe: packet.isKeyframe,
                                      cts: Int32(clamping: packet.pts - packet.dts), data: packet.data)
            : FLVTagWriter.audioFrame(codec: track.codec, trackId: track.trackId, data: packet.data)
        guard let body else { return }
        try connection.write(RTMPMessage(chunkStreamID: track.kind == .video ? 6 : 4, timestamp: timestamp,
                                         typeID: track.kind == .video ? .video : .audio, streamID: connection.streamID, payload: body))
        written += 1
        // What the target sent meanwhile (acknowledgements, a refusal) is read every so often.
        if written % 64 == 0 { try connection.drainInput() }
    }

    func finish() throws(AVFailure) {
        if let target { connection?.unpublish(key: target.key) }
        connection?.close()
        connection = nil
    }

    func abort() {
        connection?.close()
        connection = nil
    }

    func close() { abort() }
}
