import Foundation
import LiveGateModel

/// `GET /v1/channels/{id}/stats/history` (docs/contract.md §4, "Stats history"): the 10 s
/// points of each live or recently live channel, for the last hour, in memory. Bounded twice:
/// a channel keeps at most an hour of points (360), and at most `maxChannels` channels are
/// kept — the one updated longest ago goes first, once it has missed a point (`liveWithin`):
/// while every kept channel is live, a channel beyond them keeps none. (Evicting a live one
/// instead, with more live channels than room, took each channel's series out before its next
/// point: every history was one point long.) Pure: the caller gives the time.
public struct StatsHistory: Sendable {
    public struct Series: Sendable, Equatable {
        public var sessionId: String
        public var points: [StreamHealthMonitor.Point]
        public var updatedAt: Date
    }

    /// A channel's points as kept: `StoredPoint`s, 32 bytes where a `StatsPoint` is 64, in an
    /// array grown to an hour's points and no further (doubling would have made it 512).
    struct StoredSeries: Sendable {
        var sessionId: String
        var points: [StoredPoint]
        var updatedAt: Date
    }

    public let maxChannels: Int
    public let keep: TimeInterval
    private var series: [String: StoredSeries] = [:]
    /// Points a channel keeps at most: an hour of 10 s points and the one being replaced.
    var maxPoints: Int { Int(keep / 10) + 1 }

    public init(maxChannels: Int, keep: TimeInterval = 3600) {
        self.maxChannels = max(1, maxChannels)
        self.keep = keep
    }

    public var count: Int { series.count }

    /// Adds a point of the channel's session (a new session starts a new series: the history
    /// is the latest session's).
    public mutating func append(_ point: StreamHealthMonitor.Point, channelId: String, sessionId: String, now: Date) {
        if series[channelId] == nil, series.count >= maxChannels {
            // Full: room only by letting go of a channel that is no longer live.
            guard let stalest = series.min(by: { $0.value.updatedAt < $1.value.updatedAt }),
                  now.timeIntervalSince(stalest.value.updatedAt) > Self.liveWithin else { return }
            series[stalest.key] = nil
        }
        // Taken out of the table while it changes: one reference, so appending never copies.
        var s = series.removeValue(forKey: channelId).flatMap { $0.sessionId == sessionId ? $0 : nil }
            ?? StoredSeries(sessionId: sessionId, points: [], updatedAt: now)
        let oldest = StoredPoint.seconds(now.addingTimeInterval(-keep))
        if let first = s.points.firstIndex(where: { $0.at >= oldest }), first > 0 { s.points.removeFirst(first) }
        if s.points.count >= maxPoints { s.points.removeFirst(s.points.count - maxPoints + 1) }
        if s.points.count == s.points.capacity { s.points.reserveCapacity(min(maxPoints, max(16, s.points.capacity * 2))) }
        s.points.append(StoredPoint(point))
        s.updatedAt = now
        series[channelId] = s
    }

    /// A channel updated this recently is live: a point comes every 10 s.
    static let liveWithin: TimeInterval = 20

    /// The channel's points within `window` before `now` (nil: none kept).
    public func points(channelId: String, window: TimeInterval, now: Date) -> Series? {
        guard let s = series[channelId] else { return nil }
        let from = now.addingTimeInterval(-min(window, keep))
        return Series(sessionId: s.sessionId, points: s.points.lazy.map(\.point).filter { $0.at >= from }, updatedAt: s.updatedAt)
    }

    /// How many points the channel's storage has room for (tests: it stays an hour's worth).
    func storedCapacity(channelId: String) -> Int? { series[channelId]?.points.capacity }

    /// Drops channels with nothing in the last `keep` (called with the health tick).
    public mutating func expire(now: Date) {
        let oldest = now.addingTimeInterval(-keep)
        series = series.filter { $0.value.updatedAt >= oldest }
    }
}

/// One 10 s point as `StatsHistory` keeps it: whole seconds since 1970 and tenths, 32 bytes.
/// Every figure of a point is a tenth or a count already (`StreamHealthMonitor` rounds them), so
/// nothing is lost: `point` gives back the same `StatsPoint`, down to the last bit.
struct StoredPoint: Sendable, Equatable {
    var at: UInt32
    var bitrate: UInt32
    var video: UInt32
    var audio: UInt32
    var fps: UInt32
    /// `UInt32.max`: no keyframe interval yet.
    var keyframeInterval: UInt32
    var dropped: UInt32
    var health: HealthState

    static func seconds(_ date: Date) -> UInt32 { UInt32(clamping: Int64(date.timeIntervalSince1970.rounded(.down))) }
    static func tenths(_ value: Double) -> UInt32 { value.isFinite ? UInt32(clamping: Int64((value * 10).rounded())) : 0 }
    static func value(_ tenths: UInt32) -> Double { Double(tenths) / 10 }

    init(_ p: StatsPoint) {
        at = Self.seconds(p.at)
        bitrate = Self.tenths(p.bitrateKbps)
        video = Self.tenths(p.videoKbps)
        audio = Self.tenths(p.audioKbps)
        fps = Self.tenths(p.fps)
        keyframeInterval = p.keyframeIntervalSec.map { min(Self.tenths($0), UInt32.max - 1) } ?? UInt32.max
        dropped = UInt32(clamping: p.droppedPackets)
        health = p.health
    }

    var point: StatsPoint {
        StatsPoint(at: Date(timeIntervalSince1970: TimeInterval(at)), bitrateKbps: Self.value(bitrate), videoKbps: Self.value(video),
                   audioKbps: Self.value(audio), fps: Self.value(fps),
                   keyframeIntervalSec: keyframeInterval == UInt32.max ? nil : Self.value(keyframeInterval), health: health,
                   droppedPackets: Int(dropped))
    }
}
