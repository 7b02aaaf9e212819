import Foundation
import LiveGateModel

/// What the ingest side measured of one publisher connection, taken about once a second:
/// counters since the connection started and its latest timing figures. The monitor derives
/// every window from successive samples, so it judges by the time it is given (docs/architecture.md,
/// "Habits": time is an input) — a test passes a minute in one call.
public struct HealthSample: Sendable, Equatable {
    public var connection: UInt64
    /// Coded video frames of track 0 received on this connection.
    public var videoFrames: Int
    public var videoBytes: UInt64
    public var audioBytes: UInt64
    /// Seconds since the last video frame arrived (nil: none yet on this connection).
    public var videoIdleSec: Double?
    /// The stream's own frame rate: what the encoder declared, else what its timestamps say.
    public var streamFps: Double?
    /// Keyframes received on this connection, and the last completed interval between two (by timestamp).
    public var keyframes: Int
    public var lastKeyframeIntervalSec: Double?
    /// Timestamp time from the last keyframe to the latest video frame: a GOP still open.
    public var sinceKeyframeSec: Double?
    /// Audio and video timestamps apart, against when they arrived.
    public var avDriftMs: Int64?
    /// How far the stream's timestamps fall behind the wall clock since the connection's first
    /// frame (an encoder that cannot keep up: positive and growing).
    public var timestampLagMs: Int64?
    /// Packets the session's outputs dropped (cumulative).
    public var droppedPackets: Int

    public init(connection: UInt64, videoFrames: Int = 0, videoBytes: UInt64 = 0, audioBytes: UInt64 = 0, videoIdleSec: Double? = nil,
                streamFps: Double? = nil, keyframes: Int = 0, lastKeyframeIntervalSec: Double? = nil, sinceKeyframeSec: Double? = nil,
                avDriftMs: Int64? = nil, timestampLagMs: Int64? = nil, droppedPackets: Int = 0) {
        self.connection = connection
        self.videoFrames = videoFrames
        self.videoBytes = videoBytes
        self.audioBytes = audioBytes
        self.videoIdleSec = videoIdleSec
        self.streamFps = streamFps
        self.keyframes = keyframes
        self.lastKeyframeIntervalSec = lastKeyframeIntervalSec
        self.sinceKeyframeSec = sinceKeyframeSec
        self.avDriftMs = avDriftMs
        self.timestampLagMs = timestampLagMs
        self.droppedPackets = droppedPackets
    }
}

/// One channel's stream health while its session lasts (docs/contract.md §4, "Stream health"):
/// judges each sample by `HealthRules`, says when `channel.health_changed` is due (at most one
/// per `eventIntervalSec`, the state at the end of a burst always), counts the seconds spent in
/// each state, and makes the 10 s points of `stats/history`. Pure: the caller gives it samples
/// and the time.
public struct StreamHealthMonitor: Sendable {
    /// A `channel.health_changed` to send.
    public struct Change: Sendable, Equatable {
        public var state: HealthState
        public var previous: HealthState
        public var reasons: [String]
        public var at: Date
    }

    /// One 10 s point of `stats/history`.
    public typealias Point = StatsPoint

    public struct Output: Sendable, Equatable {
        public var change: Change?
        public var point: Point?
    }

    public let rules: HealthRules
    /// What judging needs of the last minute's samples: when each was taken and its counters.
    /// A whole sample is kept only for the latest — a minute of whole samples was 5 KB per
    /// publisher, the largest thing a session kept after its read buffers (BENCHMARKS.md
    /// "Memory per publisher"). All of one connection: a new connection starts it again.
    private var history: [Counters] = []
    private var latest: HealthSample?

    struct Counters: Sendable {
        var at: Date
        var videoFrames: Int
        var videoBytes: UInt64
        var audioBytes: UInt64
    }
    /// The session's keyframe intervals, in whole milliseconds (what the stream's timestamps
    /// give; 4 bytes each where a `Double` was 8), and their median, worked out again only when
    /// one is added — once a keyframe, not at every sample.
    private var keyframeIntervals: [UInt32] = []
    private(set) var median: Double?
    private var lastTick: Date?
    public private(set) var state: HealthState = .healthy
    public private(set) var reasons: [String] = []
    public private(set) var since: Date
    private var lastSent: HealthState = .healthy
    private var lastEventAt: Date?
    /// The session's seconds in each state (this node's share), and the current connection's.
    public private(set) var seconds = HealthSeconds()
    public private(set) var connectionSeconds = HealthSeconds()
    /// The connection the last sample was of (its seconds are `connectionSeconds`).
    public private(set) var connection: UInt64?
    private var pointStart: (at: Date, sample: HealthSample)?
    private var pointWorst: HealthState = .healthy
    private var figures: (receivedFps: Double?, videoKbps: Double?, audioKbps: Double?)?

    /// Most keyframe intervals kept for the session's median (the latest).
    static let maxIntervals = 512

    public init(rules: HealthRules = HealthRules(), now: Date) {
        self.rules = rules
        self.since = now
    }

    /// The publisher left (the session waits for it, or moved): no time counts until the next
    /// sample, and windows start again with the next connection.
    public mutating func pause() {
        lastTick = nil
        history.removeAll()
        latest = nil
        pointStart = nil
    }

    /// Judges one sample taken at `now`.
    public mutating func observe(_ sample: HealthSample, now: Date) -> Output {
        if connection != sample.connection {
            history.removeAll()
            latest = nil
            pointStart = nil
            connectionSeconds = HealthSeconds()
            connection = sample.connection
        }
        if let previous = latest, sample.keyframes > previous.keyframes, let interval = sample.lastKeyframeIntervalSec {
            addKeyframeInterval(interval)
        } else if latest == nil, sample.keyframes > 1, let interval = sample.lastKeyframeIntervalSec {
            addKeyframeInterval(interval)
        }
        // Time since the last sample counts for the state it was in.
        if let lastTick, now > lastTick {
            let elapsed = now.timeIntervalSince(lastTick)
            seconds.add(elapsed, to: state)
            connectionSeconds.add(elapsed, to: state)
        }
        lastTick = now
        latest = sample
        history.append(Counters(at: now, videoFrames: sample.videoFrames, videoBytes: sample.videoBytes, audioBytes: sample.audioBytes))
        while let first = history.first, now.timeIntervalSince(first.at) > 61 { history.removeFirst() }

        let (judged, why) = judge(sample, now: now)
        if judged != state {
            state = judged
            since = now
        }
        reasons = why
        var output = Output()
        // At most one event per interval; what is current when the interval has passed is sent
        // if it differs from what was sent last (a burst ends with its final state).
        if state != lastSent, lastEventAt.map({ now.timeIntervalSince($0) >= rules.eventIntervalSec }) ?? true {
            output.change = Change(state: state, previous: lastSent, reasons: reasons, at: now)
            lastSent = state
            lastEventAt = now
        }
        output.point = point(sample, now: now)
        return output
    }

    /// `health` of `/stats`.
    public func current(droppedPackets: Int) -> ChannelHealth {
        return ChannelHealth(state: state, reasons: reasons, since: since, receivedFps: figures?.receivedFps, streamFps: latest?.streamFps,
                       videoKbps: figures?.videoKbps, audioKbps: figures?.audioKbps,
                       keyframeIntervalSec: max(latest?.lastKeyframeIntervalSec ?? 0, latest?.sinceKeyframeSec ?? 0) > 0
                           ? max(latest?.lastKeyframeIntervalSec ?? 0, latest?.sinceKeyframeSec ?? 0) : nil,
                       medianKeyframeIntervalSec: median, avDriftMs: latest?.avDriftMs, timestampLagMs: latest?.timestampLagMs,
                       droppedPackets: droppedPackets, seconds: seconds)
    }

    private mutating func addKeyframeInterval(_ seconds: Double) {
        keyframeIntervals.append(UInt32(clamping: Int64((seconds * 1000).rounded())))
        if keyframeIntervals.count > Self.maxIntervals { keyframeIntervals.removeFirst(keyframeIntervals.count - Self.maxIntervals) }
        median = Self.median(of: keyframeIntervals)
    }

    static func median(of intervals: [UInt32]) -> Double? {
        guard !intervals.isEmpty else { return nil }
        let sorted = intervals.sorted()
        let mid = sorted.count / 2
        let ms = sorted.count % 2 == 1 ? Double(sorted[mid]) : (Double(sorted[mid - 1]) + Double(sorted[mid])) / 2
        return ms / 1000
    }

    /// The sample of this connection closest to `seconds` before `now` and at least that old.
    private func sample(atLeast seconds: Double, before now: Date) -> Counters? {
        history.last { now.timeIntervalSince($0.at) >= seconds - 0.25 }
    }

    private static func kbps(_ bytes: UInt64, _ older: UInt64, over seconds: Double) -> Double {
        seconds > 0 ? Double(bytes &- older) * 8 / 1000 / seconds : 0
    }

    private mutating func judge(_ s: HealthSample, now: Date) -> (HealthState, [String]) {
        var starving: [String] = []
        var degraded: [String] = []
        let window = sample(atLeast: rules.windowSec, before: now)
        var receivedFps: Double?
        var videoKbps: Double?
        var audioKbps: Double?
        if let window {
            let span = now.timeIntervalSince(window.at)
            receivedFps = Double(s.videoFrames - window.videoFrames) / span
            videoKbps = Self.kbps(s.videoBytes, window.videoBytes, over: span)
            audioKbps = Self.kbps(s.audioBytes, window.audioBytes, over: span)
        }
        figures = (receivedFps, videoKbps, audioKbps)
        let hasVideo = s.videoFrames > 0
        if hasVideo, rules.starvingNoVideoSec > 0, let idle = s.videoIdleSec, idle >= rules.starvingNoVideoSec {
            starving.append("no video for \(Self.one(idle)) s")
        } else if hasVideo, let received = receivedFps, let own = s.streamFps, own > 0, window?.videoFrames ?? 0 > 0 {
            let label = "fps \(Self.whole(received)) of \(Self.whole(own))"
            if rules.starvingFpsRatio > 0, received < own * rules.starvingFpsRatio {
                starving.append(label)
            } else if rules.degradedFpsRatio > 0, received < own * rules.degradedFpsRatio {
                degraded.append(label)
            }
        }
        // The GOP: the last completed interval, or the one still open if it is already longer.
        let interval = max(s.lastKeyframeIntervalSec ?? 0, s.sinceKeyframeSec ?? 0)
        if hasVideo, interval > 0 {
            let overMax = rules.maxKeyframeIntervalSec > 0 && interval > rules.maxKeyframeIntervalSec
            let overMedian = rules.keyframeMedianFactor > 0 && keyframeIntervals.count >= 3 && (median.map { interval > $0 * rules.keyframeMedianFactor + 0.05 } ?? false)
            if overMax || overMedian { degraded.append("keyframe interval \(Self.one(interval)) s") }
        }
        if rules.bitrateDropRatio > 0, let short = videoKbps, let minute = history.first, now.timeIntervalSince(minute.at) >= 30 {
            let average = Self.kbps(s.videoBytes, minute.videoBytes, over: now.timeIntervalSince(minute.at))
            if average > 0, short < average * rules.bitrateDropRatio {
                degraded.append("video bit rate \(Self.whole(short)) kbit/s, under half its 1-minute average \(Self.whole(average))")
            }
        }
        if rules.maxAVDriftSec > 0, let drift = s.avDriftMs, abs(Double(drift)) > rules.maxAVDriftSec * 1000 {
            degraded.append("audio/video drift \(Self.one(Double(drift) / 1000)) s")
        }
        if !starving.isEmpty { return (.starving, starving + degraded) }
        if !degraded.isEmpty { return (.degraded, degraded) }
        return (.healthy, [])
    }

    /// Closes a 10 s point when `now` crosses a multiple of 10 s (UTC) since the last one.
    private mutating func point(_ s: HealthSample, now: Date) -> Point? {
        pointWorst = max(pointWorst, state)
        guard let start = pointStart else {
            pointStart = (now, s)
            pointWorst = state
            return nil
        }
        let slot = floor(now.timeIntervalSince1970 / 10)
        guard slot > floor(start.at.timeIntervalSince1970 / 10) else { return nil }
        let span = now.timeIntervalSince(start.at)
        let video = Self.kbps(s.videoBytes, start.sample.videoBytes, over: span)
        let audio = Self.kbps(s.audioBytes, start.sample.audioBytes, over: span)
        let point = Point(at: Date(timeIntervalSince1970: slot * 10), bitrateKbps: Self.round1(video + audio), videoKbps: Self.round1(video),
                          audioKbps: Self.round1(audio), fps: span > 0 ? Self.round1(Double(s.videoFrames - start.sample.videoFrames) / span) : 0,
                          keyframeIntervalSec: s.lastKeyframeIntervalSec.map(Self.round1), health: pointWorst,
                          droppedPackets: max(0, s.droppedPackets - start.sample.droppedPackets))
        pointStart = (now, s)
        pointWorst = state
        return point
    }

    static func one(_ v: Double) -> String { String(format: "%.1f", v) }
    static func whole(_ v: Double) -> String { String(Int(v.rounded())) }
    static func round1(_ v: Double) -> Double { (v * 10).rounded() / 10 }
}
