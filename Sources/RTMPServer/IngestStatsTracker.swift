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
    /// Decode times of the last video frames: fps is measured from the stream's own clock.
    private var recentVideoDTS: [Int64] = []
    private var lastAudio: (dts: Int64, arrivalMs: Int64)?
    public var timestampRepairs = 0
    public var video: VideoCodecParameters?
    public var audio: AudioCodecParameters?

    public init() {}

    /// Records one media message of `bytes` at wall time `nowMs` (milliseconds, monotonic).
    public mutating func record(_ frame: MediaFrame, bytes: Int, nowMs: Int64) {
        advance(to: nowMs / 1000)
        mediaBytes &+= UInt64(bytes)
        buckets[Int((nowMs / 1000) % 11)] &+= UInt64(bytes)
        guard frame.packetType == .codedFrames else { return }
        if frame.kind == .video {
            videoFrames += 1
            lastVideo = (frame.dts, nowMs)
            recentVideoDTS.append(frame.dts)
            if recentVideoDTS.count > 120 { recentVideoDTS.removeFirst(recentVideoDTS.count - 120) }
            if frame.isKeyframe {
                keyframes += 1
                if let last = lastKeyframeDTS, frame.dts > last {
                    keyframeIntervalsMs.append(frame.dts - last)
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
        var fps = 0.0
        if recentVideoDTS.count >= 2, let first = recentVideoDTS.first, let last = recentVideoDTS.last, last > first {
            fps = Double(recentVideoDTS.count - 1) * 1000 / Double(last - first)
        }
        var drift: Int64?
        if let v = lastVideo, let a = lastAudio {
            drift = (v.dts - a.dts) - (v.arrivalMs - a.arrivalMs)
        }
        return IngestStatsSnapshot(
            mediaBytes: mediaBytes, videoFrames: videoFrames, audioFrames: audioFrames,
            bitrateKbps: s1 > 0 ? Double(bytes1) * 8 / 1000 / Double(s1) : 0,
            bitrateKbps10s: s10 > 0 ? Double(bytes10) * 8 / 1000 / Double(s10) : 0,
            fps: fps,
            keyframeIntervalSec: keyframeIntervalsMs.isEmpty ? nil : Double(keyframeIntervalsMs.reduce(0, +)) / Double(keyframeIntervalsMs.count) / 1000,
            timestampRepairs: timestampRepairs, avDriftMs: drift, video: video, audio: audio)
    }
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
}
