import RTMPCore

/// Measures a live stream from its media (not from `onMetaData`): bit rate over the last 1 s and
/// 10 s, frame rate, keyframe interval, and audio/video timestamp drift. Updated per frame on the
/// connection's event loop; read from anywhere through `IngestSession.stats`.
public struct IngestStatsTracker: Sendable {
    /// Bytes per wall-clock second, for the last 11 seconds (the current one is partial).
    private var buckets = [UInt64](repeating: 0, count: 11)
    private var bucketSecond: Int64 = -1
    private var firstSecond: Int64 = -1
    public private(set) var mediaBytes: UInt64 = 0
    public private(set) var videoFrames = 0
    public private(set) var audioFrames = 0
    public private(set) var keyframes = 0
    private var lastKeyframeDTS: Int64?
    private var keyframeIntervalsMs: [Int64] = []
    private var lastVideo: (dts: Int64, arrivalMs: Int64)?
    private var lastAudio: (dts: Int64, arrivalMs: Int64)?
    /// Stream health's inputs (docs/contract.md §4, "Stream health"): bytes by kind (every
    /// track), the first video frame (timestamp lag against the wall clock), the last
    /// completed keyframe interval.
    private var videoBytes: UInt64 = 0
    private var audioBytes: UInt64 = 0
    private var firstVideo: (dts: Int64, arrivalMs: Int64)?
    private var lastKeyframeIntervalMs: Int64?
    public var timestampRepairs = 0
    public var video: VideoCodecParameters?
    public var audio: AudioCodecParameters?
    /// Every track of the publish, track 0 included (docs/contract.md §4 `tracks`).
    public var tracks = TrackTable()

    public init() {}

    /// Records one media message at wall time `nowMs` (milliseconds, monotonic).
    /// The top-level figures other than bytes are track 0's; `tracks` has each one's.
    public mutating func record(_ frame: FrameFacts, nowMs: Int64) {
        let bytes = Int(frame.byteCount)
        advance(to: nowMs / 1000)
        mediaBytes &+= UInt64(bytes)
        if frame.kind == .video { videoBytes &+= UInt64(bytes) } else { audioBytes &+= UInt64(bytes) }
        buckets[Int((nowMs / 1000) % 11)] &+= UInt64(bytes)
        let key = MediaTrackKey(kind: frame.kind, trackId: frame.trackId)
        // A track exists once it sends a sequence start or a frame (not for a metadata packet
        // alone: FFmpeg sends HEVC colour info outside the multitrack wrapper).
        // In place (no copy of the tracker): nil when the track is new.
        if tracks[key]?.record(frame, nowMs: nowMs) != nil {
        } else if (frame.packetType == .sequenceHeader || frame.packetType == .codedFrames) && tracks.count < Self.maxTracks {
            var tracker = TrackStatsTracker(codec: frame.codec)
            tracker.record(frame, nowMs: nowMs)
            tracks[key] = tracker
        }
        guard frame.packetType == .codedFrames, frame.trackId == 0 else { return }
        if frame.kind == .video {
            videoFrames += 1
            lastVideo = (frame.dts, nowMs)
            if firstVideo == nil { firstVideo = (frame.dts, nowMs) }
            if frame.isKeyframe {
                keyframes += 1
                if let last = lastKeyframeDTS, frame.dts > last {
                    keyframeIntervalsMs.append(frame.dts - last)
                    lastKeyframeIntervalMs = frame.dts - last
                    if keyframeIntervalsMs.count > 10 { keyframeIntervalsMs.removeFirst() }
                }
                lastKeyframeDTS = frame.dts
            }
        } else {
            audioFrames += 1
            lastAudio = (frame.dts, nowMs)
        }
    }

    private mutating func advance(to second: Int64) {
        if firstSecond < 0 { firstSecond = second }
        if bucketSecond < 0 { bucketSecond = second }
        guard second > bucketSecond else { return }
        let steps = min(second - bucketSecond, 11)
        for s in 1...steps {
            let index = Int((bucketSecond + s) % 11)
            buckets[index] = 0
        }
        bucketSecond = second
    }

    /// A snapshot at `nowMs`, computed over complete seconds.
    public func snapshot(nowMs: Int64) -> IngestStatsSnapshot {
        var copy = self
        copy.advance(to: nowMs / 1000)
        let current = nowMs / 1000
        func sum<T: Numeric>(_ b: [T], seconds: Int64) -> (T, Int64) {
            // Complete seconds only: the current one is running, the first one was partial.
            let available = max(0, min(seconds, current - copy.firstSecond - 1))
            var total: T = 0
            if available > 0 { for s in 1...available { total += b[Int((current - s) % 11)] } }
            return (total, available)
        }
        let (bytes1, s1) = sum(copy.buckets, seconds: 1)
        let (bytes10, s10) = sum(copy.buckets, seconds: 10)
        let fps = streamFrameRate
        var drift: Int64?
        if let v = lastVideo, let a = lastAudio {
            drift = (v.dts - a.dts) - (v.arrivalMs - a.arrivalMs)
        }
        let track0Keyframes = tracks[MediaTrackKey(kind: .video, trackId: 0)]?.recentKeyframes ?? []
        let trackSnapshots = tracks.keys.compactMap { key in
            tracks[key]?.snapshot(key, nowMs: nowMs, firstSecond: copy.firstSecond, track0Keyframes: track0Keyframes)
        }
        return IngestStatsSnapshot(
            mediaBytes: mediaBytes, videoFrames: videoFrames, audioFrames: audioFrames,
            bitrateKbps: s1 > 0 ? Double(bytes1) * 8 / 1000 / Double(s1) : 0,
            bitrateKbps10s: s10 > 0 ? Double(bytes10) * 8 / 1000 / Double(s10) : 0,
            fps: fps,
            keyframeIntervalSec: keyframeIntervalsMs.isEmpty ? nil : Double(keyframeIntervalsMs.reduce(0, +)) / Double(keyframeIntervalsMs.count) / 1000,
            timestampRepairs: timestampRepairs, avDriftMs: drift, video: video, audio: audio, tracks: trackSnapshots)
    }

    /// Track 0 video's frame rate from its own decode times (the last 120 frames): the ring
    /// its track keeps — the tracker once kept a second copy of the same 120 times, a kilobyte
    /// per publisher (docs/architecture.md "Memory per publisher").
    private var streamFrameRate: Double { tracks[MediaTrackKey(kind: .video, trackId: 0)]?.frameRate ?? 0 }

    /// What stream health reads each second: counters and timing only (no copy of the tracker).
    public func healthCounters(nowMs: Int64, declaredFps: Double?) -> IngestHealthCounters {
        var streamFps = declaredFps.flatMap { $0 > 0 && $0 <= 1000 ? $0 : nil }
        if streamFps == nil, case let measured = streamFrameRate, measured > 0 { streamFps = measured }
        var lag: Int64?
        if let first = firstVideo, let last = lastVideo { lag = (last.arrivalMs - first.arrivalMs) - (last.dts - first.dts) }
        return IngestHealthCounters(
            videoFrames: videoFrames, videoBytes: videoBytes, audioBytes: audioBytes,
            videoIdleSec: lastVideo.map { Double(max(0, nowMs - $0.arrivalMs)) / 1000 }, streamFps: streamFps, keyframes: keyframes,
            lastKeyframeIntervalSec: lastKeyframeIntervalMs.map { Double($0) / 1000 },
            sinceKeyframeSec: lastKeyframeDTS.flatMap { k in lastVideo.map { Double(max(0, $0.dts - k)) / 1000 } },
            avDriftMs: lastVideo.flatMap { v in lastAudio.map { a in (v.dts - a.dts) - (v.arrivalMs - a.arrivalMs) } },
            timestampLagMs: lag)
    }

    /// E-RTMP track ids are a byte per kind: a publisher cannot make more than 512 entries,
    /// but a bound here keeps the per-frame map small whatever it sends.
    static let maxTracks = 64
}

/// What the statistics read of one media message: its scalars, not its bytes. The listener
/// gathers these for the ordinary frames of one read and records them under one lock
/// (`IngestSession.record(_:repairs:nowMs:)`; docs/architecture.md "Merged reads").
public struct FrameFacts: Sendable, Equatable {
    public var dts: Int64
    public var byteCount: UInt32
    public var kind: MediaKind
    public var codec: MediaCodec
    public var packetType: MediaPacketType
    public var isKeyframe: Bool
    public var trackId: UInt8

    public init(_ frame: MediaFrame) {
        dts = frame.dts
        byteCount = UInt32(truncatingIfNeeded: frame.byteCount)
        kind = frame.kind
        codec = frame.codec
        packetType = frame.packetType
        isKeyframe = frame.isKeyframe
        trackId = frame.trackId
    }
}

/// The per-track trackers: track 0 of each kind in their own fields (every frame of a classic
/// publish: no hashing on the hot path), other tracks in a dictionary.
public struct TrackTable: Sendable {
    private var video0: TrackStatsTracker?
    private var audio0: TrackStatsTracker?
    private var others: [MediaTrackKey: TrackStatsTracker] = [:]

    public init() {}

    public subscript(key: MediaTrackKey) -> TrackStatsTracker? {
        get {
            if key.trackId == 0 { return key.kind == .video ? video0 : audio0 }
            return others[key]
        }
        _modify {
            if key.trackId == 0 {
                if key.kind == .video { yield &video0 } else { yield &audio0 }
            } else {
                yield &others[key]
            }
        }
    }

    /// Whether the track's audio sample rate is known (read in place, per audio frame).
    func audioRateKnown(_ key: MediaTrackKey) -> Bool {
        if key.trackId == 0 { return audio0?.audio?.sampleRate != nil }
        return others[key]?.audio?.sampleRate != nil
    }

    public var count: Int { (video0 == nil ? 0 : 1) + (audio0 == nil ? 0 : 1) + others.count }

    /// Video first, then audio, each by track id.
    public var keys: [MediaTrackKey] {
        var all = Array(others.keys)
        if video0 != nil { all.append(MediaTrackKey(kind: .video, trackId: 0)) }
        if audio0 != nil { all.append(MediaTrackKey(kind: .audio, trackId: 0)) }
        return all.sorted()
    }
}

/// One track's figures: bytes per second (the last 11 s), frames, frame rate from its own
/// timestamps, keyframe interval, and its recent keyframes (to tell whether a rendition's
/// keyframes line up with track 0's, as adaptive HLS needs).
public struct TrackStatsTracker: Sendable {
    var codec: MediaCodec
    private var buckets = [UInt64](repeating: 0, count: 11)
    private var bucketSecond: Int64 = -1
    var frames = 0
    /// The last 120 decode times of a video track, as a ring (no shifting per frame): its frame
    /// rate. Made at the track's first video frame — an audio track has no frame rate to show
    /// and keeps none (a kilobyte per publisher: BENCHMARKS.md "Memory per publisher").
    private var recentDTS: [Int64] = []
    static let recentFrames = 120
    private var recentNext = 0
    private var recentCount = 0
    private(set) var recentKeyframes: [Int64] = []
    public var video: VideoCodecParameters?
    public var audio: AudioCodecParameters?

    init(codec: MediaCodec) { self.codec = codec }

    mutating func record(_ frame: FrameFacts, nowMs: Int64) {
        let second = nowMs / 1000
        if bucketSecond < 0 { bucketSecond = second }
        if second > bucketSecond {
            for s in 1...min(second - bucketSecond, 11) { buckets[Int((bucketSecond + s) % 11)] = 0 }
            bucketSecond = second
        }
        buckets[Int(second % 11)] &+= UInt64(frame.byteCount)
        if frame.packetType == .sequenceHeader || frame.packetType == .codedFrames { codec = frame.codec }
        guard frame.packetType == .codedFrames else { return }
        frames += 1
        guard frame.kind == .video else { return }
        if recentDTS.isEmpty { recentDTS = [Int64](repeating: 0, count: Self.recentFrames) }
        recentDTS[recentNext] = frame.dts
        recentNext = (recentNext + 1) % recentDTS.count
        recentCount = min(recentCount + 1, recentDTS.count)
        if frame.isKeyframe {
            recentKeyframes.append(frame.dts)
            if recentKeyframes.count > 8 { recentKeyframes.removeFirst() }
        }
    }

    var frameRate: Double {
        guard recentCount >= 2 else { return 0 }
        let last = recentDTS[(recentNext + recentDTS.count - 1) % recentDTS.count]
        let first = recentDTS[(recentNext + recentDTS.count - recentCount) % recentDTS.count]
        guard last > first else { return 0 }
        return Double(recentCount - 1) * 1000 / Double(last - first)
    }

    func snapshot(_ key: MediaTrackKey, nowMs: Int64, firstSecond: Int64, track0Keyframes: [Int64]) -> TrackStatsSnapshot {
        let current = nowMs / 1000
        let available = max(0, min(10, current - max(firstSecond, bucketSecond - 10) - 1))
        var total: UInt64 = 0
        if available > 0, current - bucketSecond < 11 {
            for s in 1...available where current - s <= bucketSecond { total += buckets[Int((current - s) % 11)] }
        }
        var intervals: [Int64] = []
        for (a, b) in zip(recentKeyframes, recentKeyframes.dropFirst()) where b > a { intervals.append(b - a) }
        // A rendition's keyframe is aligned when track 0 has one within a frame of it; only
        // keyframes track 0 has had the time to match are judged.
        var aligned: Bool?
        if key.kind == .video, key.trackId != 0, let last0 = track0Keyframes.last {
            let frame = frameRate > 0 ? 1000 / frameRate : 40
            let judged = recentKeyframes.filter { Double($0) <= Double(last0) + frame }
            if !judged.isEmpty {
                aligned = judged.allSatisfy { k in track0Keyframes.contains { abs(Double($0 - k)) <= frame } || k < track0Keyframes[0] - Int64(frame) }
            }
        }
        return TrackStatsSnapshot(key: key, codec: codec, frames: frames,
                                  bitrateKbps: available > 0 ? Double(total) * 8 / 1000 / Double(available) : 0,
                                  frameRate: key.kind == .video ? frameRate : nil,
                                  keyframeIntervalSec: intervals.isEmpty ? nil : Double(intervals.reduce(0, +)) / Double(intervals.count) / 1000,
                                  alignedWithTrack0: aligned, video: video, audio: audio)
    }
}

/// One track in `/v1/channels/{id}/stats` `tracks`.
public struct TrackStatsSnapshot: Sendable, Equatable {
    public var key: MediaTrackKey
    public var codec: MediaCodec
    public var frames: Int
    /// Over the last 10 complete seconds (fewer at the start).
    public var bitrateKbps: Double
    public var frameRate: Double?
    public var keyframeIntervalSec: Double?
    /// Video tracks other than 0: whether their keyframes coincide with track 0's (within a
    /// frame); nil until judged.
    public var alignedWithTrack0: Bool?
    public var video: VideoCodecParameters?
    public var audio: AudioCodecParameters?
}

public struct IngestStatsSnapshot: Sendable, Equatable {
    public var mediaBytes: UInt64
    public var videoFrames: Int
    public var audioFrames: Int
    public var bitrateKbps: Double
    public var bitrateKbps10s: Double
    public var fps: Double
    public var keyframeIntervalSec: Double?
    public var timestampRepairs: Int
    public var avDriftMs: Int64?
    public var video: VideoCodecParameters?
    public var audio: AudioCodecParameters?
    /// Every track, track 0 included, video first.
    public var tracks: [TrackStatsSnapshot] = []
}

/// The figures stream health is judged from (IngestCore's `HealthSample` without the
/// connection and the outputs' drops, which the coordinator adds).
public struct IngestHealthCounters: Sendable, Equatable {
    public var videoFrames: Int
    public var videoBytes: UInt64
    public var audioBytes: UInt64
    public var videoIdleSec: Double?
    public var streamFps: Double?
    public var keyframes: Int
    public var lastKeyframeIntervalSec: Double?
    public var sinceKeyframeSec: Double?
    public var avDriftMs: Int64?
    public var timestampLagMs: Int64?
}
