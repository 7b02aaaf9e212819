import Dispatch
import NIOConcurrencyHelpers
import NIOCore
import RTMPCore

/// One publisher's media on its way to the outputs. Called on the connection's event loop for
/// every frame, so it only does bookkeeping and O(1) hand-offs:
///
/// - collects the sequence headers into a `StreamLayout` (waiting briefly, buffered, until every
///   track `onMetaData` announced has its header, or 1 s of media has passed; a multitrack
///   publish always waits the second, and its set of tracks is then fixed for the session),
/// - rebases timestamps so outputs start at zero on the publisher's 64-bit timeline,
/// - starts a new segment on every output when a sequence header changes mid-stream,
/// - buffers (bounded) until the coordinator has attached the channel's outputs.
final class MediaSession: Sendable {
    private struct State {
        /// Every track's format by E-RTMP track id.
        var videos: [UInt8: TrackFormat] = [:]
        var audios: [UInt8: TrackFormat] = [:]
        /// A track other than 0 has been seen: the layout waits for the first second of media
        /// (docs/contract.md §3, "Several tracks").
        var multitrack = false
        /// A track's colour metadata that came before its sequence header.
        var pendingRange: [UInt8: (codec: MediaCodec, range: String)] = [:]
        /// Audio languages `onMetaData` gave, by track id.
        var languages: [UInt8: String] = [:]
        /// Tracks that appeared after the layout was decided: reported, carried from the next session.
        var late: Set<String> = []
        var layout: StreamLayout?
        var expectsVideo: Bool?
        var expectsAudio: Bool?
        var pending: [MediaFrame] = []
        var baseDts: Int64?
        var workers: [OutputWorker]?
        var backlog: [OutputItem] = []
        var backlogBytes = 0
        var backlogDropped = 0
        var ended = false
        /// Added to every output timestamp: where the session's previous connection left off.
        var offset: Int64 = 0
        /// The last timestamp delivered (output timeline).
        var lastDts: Int64?
        /// The previous connection's layout: the same layout resumes the outputs instead of restarting them.
        var resumeLayout: StreamLayout?
        /// Where small frames are copied for the outputs (`owned`).
        var slab = FrameSlab()
    }

    /// Where a connection left its session's outputs: the layout and the timeline's end, and
    /// when (ms, monotonic), so the next connection's timestamps continue after the gap.
    struct Carry: Sendable, Equatable {
        var layout: StreamLayout?
        var endDts: Int64
        var atMs: Int64
    }

    static func nowMs() -> Int64 { Int64(DispatchTime.now().uptimeNanoseconds / 1_000_000) }

    /// How long to wait for a missing sequence header before starting without that track.
    static let layoutWaitMs: Int64 = 1000
    static let maxPendingFrames = 600
    /// Items kept before the outputs are attached (normally milliseconds' worth).
    static let maxBacklog = 4096
    /// … and at most this many bytes of media (frames held as received, see `emit`).
    static let maxBacklogBytes = 8 << 20

    let connectionID: UInt64
    private let state = NIOLockedValueBox(State())

    init(connectionID: UInt64) { self.connectionID = connectionID }

    /// Audio tracks' languages from `onMetaData` (`EXT-X-MEDIA` `LANGUAGE`), kept for the layout.
    func languages(_ byTrack: [UInt8: String]) {
        guard !byTrack.isEmpty else { return }
        state.withLockedValue { s in
            guard s.layout == nil else { return }
            s.languages.merge(byTrack) { $1 }
            for (id, language) in byTrack { s.audios[id]?.language = language }
        }
    }

    /// `onMetaData` tells which tracks to wait for.
    func announce(hasVideo: Bool, hasAudio: Bool) {
        state.withLockedValue { s in
            s.expectsVideo = hasVideo
            s.expectsAudio = hasAudio
        }
    }

    func ingest(_ frame: MediaFrame) {
        state.withLockedValue { s in
            guard !s.ended else { return }
            if frame.trackId != 0 { s.multitrack = true }
            switch frame.packetType {
            case .sequenceHeader:
                if frame.kind == .video {
                    guard var track = TrackFormat.video(sequenceHeader: frame) else {
                        // A codec no output can mux (VVC on Debian 12's libavformat): shown in
                        // `/stats` with `inOutputs: false`, never silently missing.
                        s.late.insert("video \(frame.trackId) (\(frame.codec.rawValue))")
                        return
                    }
                    track.videoRange = s.videos[frame.trackId]?.videoRange
                        ?? s.pendingRange[frame.trackId].flatMap { $0.codec == track.codec ? $0.range : nil }
                    guard track != s.videos[frame.trackId] else { return }
                    Self.update(track, &s)
                } else {
                    guard var track = TrackFormat.audio(frame) else { return }
                    track.language = s.audios[frame.trackId]?.language ?? s.languages[frame.trackId]
                    guard !track.sameStream(as: s.audios[frame.trackId]) else { return }
                    Self.update(track, &s)
                }
            case .codedFrames:
                // VP9's sequence start has no size; muxers need one (an MP4 without it fails to
                // open): the first keyframe gives it.
                if frame.kind == .video, frame.codec == .vp9, frame.isKeyframe, var video = s.videos[frame.trackId], video.width == nil,
                   let size = VideoCodecParameters.keyframeSize(frame) {
                    (video.width, video.height) = (size.width, size.height)
                    Self.update(video, &s)
                }
                if frame.kind == .audio, frame.codec != .aac, s.audios[frame.trackId] == nil, var track = TrackFormat.audio(frame) {
                    // Codecs without a sequence header (MP3 …) are described by their first frame.
                    track.language = s.languages[frame.trackId]
                    Self.update(track, &s)
                }
                guard s.layout != nil else {
                    // Kept as its own bytes while the layout waits (up to a second of stream): as
                    // received, the frame's pieces would each pin a read buffer for that long, and
                    // NIO's receive pool, finding its buffers held, allocates more and keeps them
                    // (docs/architecture.md "Memory after a burst"). Known to have no outputs:
                    // nothing will read it.
                    var waiting = frame
                    if s.workers?.isEmpty != true { waiting.body = ChunkedPayload(Self.owned(frame.body, &s.slab)) }
                    s.pending.append(waiting)
                    if Self.ready(s) { Self.startLayout(&s) }
                    return
                }
                Self.emit(frame, &s)
            case .metadata:
                // Colour (HDR) metadata: the variant's VIDEO-RANGE, while the layout is open.
                guard frame.kind == .video, s.layout == nil, let range = VideoColorInfo.parse(frame.data)?.videoRange else { return }
                if var track = s.videos[frame.trackId], track.codec == frame.codec {
                    track.videoRange = range
                    s.videos[frame.trackId] = track
                } else {
                    s.pendingRange[frame.trackId] = (frame.codec, range)
                }
            case .sequenceEnd, .multichannelConfig:
                return
            }
        }
    }

    /// Tracks that arrived after this session's layout was fixed (`video 2 (h264)`).
    var lateTracks: [String] { state.withLockedValue { $0.late.sorted() } }

    /// A track's (new) format. Before the layout is decided it only joins the set; after, a
    /// track of the layout changing (a new resolution) starts new segments, track 0 joining
    /// late (audio after a second of video) is added as before, and any other new track is
    /// reported and left for the next session.
    private static func update(_ track: TrackFormat, _ s: inout State) {
        let known = (track.kind == .video ? s.videos : s.audios)[track.trackId] != nil
        if let layout = s.layout, !known, track.trackId != 0 || layout.index(of: track.kind) != nil {
            s.late.insert(track.label)
            return
        }
        if track.kind == .video { s.videos[track.trackId] = track } else { s.audios[track.trackId] = track }
        if s.layout != nil { relayout(&s) }
    }

    /// The outputs for this connection: they receive everything buffered so far, then live
    /// packets. `continuing` (a later connection of the same channel session): the workers are
    /// already running; timestamps continue after the previous connection's, and the same
    /// layout resumes the outputs (`.resume`) instead of starting a new segment.
    func attach(_ workers: [OutputWorker], continuing: Carry?) {
        state.withLockedValue { s in
            // Already gone (closed before its outputs were known): nothing to feed; the outputs
            // are the session's and must not be ended from here.
            guard !s.ended else { return }
            s.workers = workers
            // No outputs: nothing will be copied from now on, so the slab lets go of its block
            // (frames that came before the outputs were known were copied into it). Kept, it
            // was 32 KiB for every live channel without outputs (BENCHMARKS.md, twelfth
            // session: 77 KiB per publisher at 4,000 instead of 31).
            if workers.isEmpty { s.slab = FrameSlab() }
            if let carry = continuing {
                s.offset = carry.endDts + max(1, Self.nowMs() - carry.atMs)
                s.resumeLayout = carry.layout
                // What was buffered before the outputs were known moves onto the session's timeline.
                s.backlog = s.backlog.map { item in
                    switch item {
                    case .begin(let layout) where layout == s.resumeLayout:
                        s.resumeLayout = nil
                        return .resume(layout)
                    case .begin:
                        s.resumeLayout = nil
                        return item
                    case .packet(var packet):
                        packet.dts += s.offset
                        packet.pts += s.offset
                        s.lastDts = packet.dts
                        return .packet(packet)
                    default:
                        return item
                    }
                }
            }
            for worker in workers {
                if continuing == nil { worker.start() }
                for item in s.backlog { worker.send(item) }
            }
            s.backlog = []
            s.backlogBytes = 0
        }
    }

    /// Outputs added while live (a forward created mid-session): they start with the current
    /// layout and wait for the next keyframe; nothing from before is replayed.
    func add(_ added: [OutputWorker]) {
        state.withLockedValue { s in
            for worker in added {
                worker.start()
                // Not attached yet cannot happen (the coordinator configures, then updates, in
                // order); if it did, the output ends at once rather than miss the backlog.
                if let layout = s.layout, s.workers != nil { worker.send(.begin(layout)) }
                if s.ended || s.workers == nil { worker.send(.end) }
            }
            if s.workers != nil { s.workers?.append(contentsOf: added) }
        }
    }

    /// Takes forwards out of the session (removed or disabled while live); the caller ends them.
    func detach(forwardIds: Set<String>) -> [OutputWorker] {
        guard !forwardIds.isEmpty else { return [] }
        return state.withLockedValue { s in
            let out = (s.workers ?? []).filter { $0.kind == .forward && $0.id.map(forwardIds.contains) == true }
            s.workers?.removeAll { w in out.contains { $0 === w } }
            return out
        }
    }

    /// The publisher is gone (or replaced): frames still waiting for a layout are delivered
    /// with whatever tracks are known, and nothing more. The outputs are the channel session's
    /// and go on (or end) without this connection; the returned carry is where it left them.
    func detach() -> Carry? {
        state.withLockedValue { s in
            guard !s.ended else { return nil }
            if s.layout == nil, !s.pending.isEmpty, !s.videos.isEmpty || !s.audios.isEmpty { Self.startLayout(&s) }
            s.ended = true
            guard s.workers != nil else { return nil }
            s.workers = nil
            return Carry(layout: s.layout, endDts: s.lastDts ?? s.offset, atMs: Self.nowMs())
        }
    }

    var workers: [OutputWorker] { state.withLockedValue { $0.workers ?? [] } }

    // MARK: Layout

    private static func ready(_ s: State) -> Bool {
        guard let first = s.pending.first, let last = s.pending.last else { return false }
        let any = !s.videos.isEmpty || !s.audios.isEmpty
        if last.dts - first.dts >= layoutWaitMs || s.pending.count >= maxPendingFrames * max(1, (s.videos.count + s.audios.count) / 2) { return any }
        if s.multitrack { return false }
        let videoDone = s.videos[0] != nil || s.expectsVideo == false
        let audioDone = s.audios[0] != nil || s.expectsAudio == false
        return videoDone && audioDone && any
    }

    private static func currentLayout(_ s: State) -> StreamLayout {
        StreamLayout(tracks: s.videos.keys.sorted().compactMap { s.videos[$0] } + s.audios.keys.sorted().compactMap { s.audios[$0] })
    }

    private static func startLayout(_ s: inout State) {
        let layout = currentLayout(s)
        s.layout = layout
        s.baseDts = s.pending.map(\.dts).min()
        if let resume = s.resumeLayout, resume == layout, s.workers != nil {
            deliver(.resume(layout), &s)
        } else {
            deliver(.begin(layout), &s)
        }
        if s.workers != nil { s.resumeLayout = nil }
        let pending = s.pending
        s.pending = []
        for frame in pending { emit(frame, &s) }
    }

    private static func relayout(_ s: inout State) {
        let layout = currentLayout(s)
        guard layout != s.layout else { return }
        s.layout = layout
        deliver(.begin(layout), &s)
    }

    private static func emit(_ frame: MediaFrame, _ s: inout State) {
        // No outputs: nothing to copy or queue — checked before anything else is touched, as
        // this is every frame of every channel without HLS, recording or forwards.
        if s.workers?.isEmpty == true { return }
        guard let track = s.layout?.index(of: frame.kind, trackId: frame.trackId),
              s.layout?.tracks[track].codec == frame.codec else { return }
        let base = s.baseDts ?? frame.dts
        let dts = max(0, frame.dts - base) + s.offset
        s.lastDts = dts
        // Made the queue's own (`owned`) whether or not the outputs are known yet: kept as
        // received, a frame waiting in the backlog pins its whole read buffer, and when the
        // outputs are decided late (a node short of CPU: seconds) that was a read buffer per
        // frame — hundreds of KiB per publisher (BENCHMARKS.md "Memory after a burst").
        // Known to have no outputs: returned above, before anything is copied.
        let data = owned(frame.body, &s.slab)
        var packet = MediaPacket(kind: frame.kind, track: track, dts: dts, pts: dts + Int64(frame.compositionTimeOffset),
                                 isKeyframe: frame.kind == .audio || frame.isKeyframe, data: data)
        packet.subMillisecondNanos = frame.timestampOffsetNanos
        deliver(.packet(packet), &s)
    }

    /// The frame as the outputs' own bytes. A frame in several chunks is still the chunks'
    /// slices of the socket's reads (docs/contract.md §2 "Payloads in chunks"): joined here,
    /// once — the one copy every byte costs on its way to the outputs (libavformat needs it
    /// contiguous anyway). A single-chunk frame is a slice of the socket read buffer (up to
    /// 64 KiB and more); queued as is, a 200-byte audio frame would pin that whole buffer while
    /// an output lags, so small frames are copied and the queue's byte bound is what it holds.
    /// Small frames (nearly every frame of a real-time stream) are copied into the session's
    /// `FrameSlab`, not a buffer each; a large one that came in one chunk stays as received.
    private static func owned(_ body: ChunkedPayload, _ slab: inout FrameSlab) -> ByteBuffer {
        if body.readableBytes <= FrameSlab.maxFrame { return slab.copy(body) }
        return body.isContiguous ? body.head : body.joined()
    }

    private static func deliver(_ item: OutputItem, _ s: inout State) {
        if let workers = s.workers {
            for w in workers { w.send(item) }
            return
        }
        let bytes: Int
        if case .packet(let packet) = item { bytes = packet.data.readableBytes } else { bytes = 0 }
        if case .begin = item {
            s.backlog.append(item)
        } else if s.backlog.count < maxBacklog, s.backlogBytes + bytes <= maxBacklogBytes {
            s.backlog.append(item)
            s.backlogBytes += bytes
        } else {
            s.backlogDropped += 1
        }
    }
}
