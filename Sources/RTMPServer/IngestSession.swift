import NIOConcurrencyHelpers
import NIOCore
import RTMPCore

/// Running counters of a session, readable from any thread (limit enforcement, stats).
public struct IngestLiveStats: Sendable, Equatable {
    public var mediaBytes: UInt64 = 0
    public var videoFrames: Int = 0
    public var audioFrames: Int = 0
}

/// A handle on one accepted publisher, safe to keep and call from any thread.
public final class IngestSession: Sendable, CustomStringConvertible {
    public let connectionID: UInt64
    public let request: PublishRequest
    public let remoteAddress: String
    public let startedAt: NIODeadline
    /// Where a kick goes: the connection's pipeline, or — for a session with no connection
    /// behind it (`detached`) — a callback.
    private let channel: (any Channel)?
    private let onKick: (@Sendable (NetStatus, IngestEndReason) -> Void)?
    private let tracker = NIOLockedValueBox(IngestStatsTracker())
    private let keyframeSeen = NIOLockedValueBox(false)

    /// True the first time it is called (on the connection's first video keyframe), then false.
    public func firstKeyframeSeen() -> Bool {
        keyframeSeen.withLockedValue { seen in
            defer { seen = true }
            return !seen
        }
    }

    /// Running counters (limit enforcement).
    public var liveStats: IngestLiveStats {
        tracker.withLockedValue { IngestLiveStats(mediaBytes: $0.mediaBytes, videoFrames: $0.videoFrames, audioFrames: $0.audioFrames) }
    }

    /// Measured statistics right now (`/v1/channels/{id}/stats`).
    public var stats: IngestStatsSnapshot {
        tracker.withLockedValue { $0.snapshot(nowMs: Self.nowMs()) }
    }

    /// Stream health's counters right now (read once a second per live channel: cheap).
    public func healthCounters(declaredFps: Double?) -> IngestHealthCounters {
        tracker.withLockedValue { $0.healthCounters(nowMs: Self.nowMs(), declaredFps: declaredFps) }
    }

    /// The latest track-0 video keyframe and the sequence header it needs, for a thumbnail
    /// (docs/contract.md §4, "Thumbnails").
    public struct HeldKeyframe: Sendable {
        public var codec: MediaCodec
        public var header: ByteBuffer?
        public var frame: ByteBuffer
        public var heldAt: NIODeadline
    }

    private struct ThumbnailSource {
        var header: ByteBuffer?
        var keyframe: HeldKeyframe?
        /// Keyframes are kept only until then: someone asked for a thumbnail within the minute.
        var wantedUntil = NIODeadline.uptimeNanoseconds(0)
    }

    private let thumbnailSource = NIOLockedValueBox(ThumbnailSource())

    /// A thumbnail was asked for: keep the latest keyframe for the next `seconds`.
    public func wantKeyframes(for seconds: Int64 = 60) -> HeldKeyframe? {
        thumbnailSource.withLockedValue { s in
            s.wantedUntil = .now() + .seconds(seconds)
            return s.keyframe
        }
    }

    /// Offered each track-0 video sequence header and keyframe (one lock per keyframe, none per
    /// ordinary frame): kept only while wanted, so a channel nobody looks at holds no picture.
    public func offerForThumbnail(_ frame: MediaFrame) {
        thumbnailSource.withLockedValue { s in
            if frame.packetType == .sequenceHeader {
                // A copy: the frame is often a slice of the socket's read buffer, which a held
                // slice would keep alive (up to 64 KiB) for the whole session.
                s.header = ByteBuffer(bytes: frame.data.readableBytesView)
                s.keyframe = nil
            } else if NIODeadline.now() < s.wantedUntil {
                s.keyframe = HeldKeyframe(codec: frame.codec, header: s.header, frame: frame.data, heldAt: .now())
            } else {
                s.keyframe = nil
            }
        }
    }

    /// Seconds since publishing started.
    public var uptimeSeconds: Double { Double((NIODeadline.now() - startedAt).nanoseconds) / 1e9 }

    /// The ordinary frames of one read (coded frames that change no codec parameters), received
    /// at `nowMs`: their counters under one lock — per read, not per frame.
    func record(_ frames: [FrameFacts], repairs: Int, nowMs: Int64) {
        tracker.withLockedValue { t in
            for frame in frames { t.record(frame, nowMs: nowMs) }
            t.timestampRepairs = repairs
        }
    }

    /// A frame that can change the codec parameters — a sequence start, metadata, a keyframe, an
    /// audio track not yet measured — with the parameters the handler measured: the counters,
    /// then the parameters (ordinary frames go through `record(_:repairs:nowMs:)` and copy none).
    func record(_ frame: MediaFrame, repairs: Int, video: VideoCodecParameters?, audio: AudioCodecParameters?, nowMs: Int64) {
        tracker.withLockedValue { t in
            t.record(FrameFacts(frame), nowMs: nowMs)
            t.timestampRepairs = repairs
            let key = MediaTrackKey(kind: frame.kind, trackId: frame.trackId)
            if frame.packetType == .codedFrames && !(frame.kind == .video && frame.isKeyframe)
                && !(frame.kind == .audio && (!t.tracks.audioRateKnown(key) || (frame.trackId == 0 && t.audio?.sampleRate == nil))) {
                return
            }
            if frame.kind == .video, let video { t.tracks[key]?.video = video }
            if frame.trackId != 0, frame.packetType == .metadata, let video {
                if t.tracks[key] == nil { t.tracks[key] = TrackStatsTracker(codec: frame.codec) }
                t.tracks[key]?.video = video
            }
            if frame.kind == .audio, let audio { t.tracks[key]?.audio = audio }
            guard frame.trackId == 0 else { return }
            if frame.packetType == .sequenceHeader || frame.packetType == .multichannelConfig || (frame.packetType == .metadata && video != nil) {
                if frame.kind == .video { t.video = video } else { t.audio = audio }
            } else if frame.codec == .vp9, frame.isKeyframe, t.video?.width == nil {
                t.video = video // VP9's size arrives with its first keyframe
            } else if frame.kind == .audio, t.audio?.sampleRate == nil, audio?.sampleRate != nil {
                t.audio = audio // codecs without a sequence start (MP3, AC-3): their first frame says it
            }
        }
    }

    static func nowMs() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000) }

    init(connectionID: UInt64, request: PublishRequest, remoteAddress: String, startedAt: NIODeadline, channel: any Channel) {
        self.connectionID = connectionID
        self.request = request
        self.remoteAddress = remoteAddress
        self.startedAt = startedAt
        self.channel = channel
        self.onKick = nil
    }

    private init(connectionID: UInt64, request: PublishRequest, remoteAddress: String, onKick: @escaping @Sendable (NetStatus, IngestEndReason) -> Void) {
        self.connectionID = connectionID
        self.request = request
        self.remoteAddress = remoteAddress
        self.startedAt = .now()
        self.channel = nil
        self.onKick = onKick
    }

    /// Counts a received media message as the listener does for each one (public so a
    /// `detached` session can be fed by a test).
    public func received(_ frame: MediaFrame, bytes: Int) {
        var facts = FrameFacts(frame)
        facts.byteCount = UInt32(truncatingIfNeeded: bytes)
        record([facts], repairs: 0, nowMs: Self.nowMs())
    }

    /// A session with no connection behind it: what consumes sessions (the ingest coordinator)
    /// can be driven in-process, in milliseconds, with a kick reported to `onKick`.
    public static func detached(connectionID: UInt64, request: PublishRequest, remoteAddress: String,
                                onKick: @escaping @Sendable (NetStatus, IngestEndReason) -> Void) -> IngestSession {
        IngestSession(connectionID: connectionID, request: request, remoteAddress: remoteAddress, onKick: onKick)
    }

    /// Ends the session from the server side: the client gets `status`, then the connection
    /// closes and the sink sees `publishEnded` with `reason`.
    public func kick(_ status: NetStatus, reason: IngestEndReason = .kicked) {
        if let channel {
            channel.pipeline.fireUserInboundEventTriggered(KickEvent(status: status, reason: reason))
        } else {
            onKick?(status, reason)
        }
    }

    /// Sends Enhanced RTMP's `NetConnection.Connect.ReconnectRequest` (with where to connect);
    /// the connection goes on until the publisher has moved. A session without a connection
    /// (a test's `detached` one) has no one to ask.
    public func requestReconnect(tcUrl: String?, description: String) {
        channel?.pipeline.fireUserInboundEventTriggered(ReconnectRequestEvent(tcUrl: tcUrl, description: description))
    }

    public var description: String { "IngestSession(conn: \(connectionID), key: \(request.maskedKey), remote: \(remoteAddress))" }
}

/// Delivered through the pipeline so the kick runs on the connection's own event loop.
struct KickEvent: Sendable {
    var status: NetStatus
    var reason: IngestEndReason
}

/// Delivered through the pipeline so the request is written on the connection's own event loop.
struct ReconnectRequestEvent: Sendable {
    var tcUrl: String?
    var description: String
}
