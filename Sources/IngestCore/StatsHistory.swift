import Foundation
import LiveGateModel

/// `GET /v1/channels/{id}/stats/history` (docs/contract.md §4, "Stats history"): the 10 s
/// points of each live or recently live channel, for the last hour, in memory. Bounded twice:
/// a channel keeps at most an hour of points (360), and at most `maxChannels` channels are
/// kept — the one updated longest ago goes first. Pure: the caller gives the time.
public struct StatsHistory: Sendable {
    public struct Series: Sendable, Equatable {
        public var sessionId: String
        public var points: [StreamHealthMonitor.Point]
        public var updatedAt: Date
    }

    public let maxChannels: Int
    public let keep: TimeInterval
    private var series: [String: Series] = [:]

    public init(maxChannels: Int, keep: TimeInterval = 3600) {
        self.maxChannels = max(1, maxChannels)
        self.keep = keep
    }

    public var count: Int { series.count }

    /// Adds a point of the channel's session (a new session starts a new series: the history
    /// is the latest session's).
    public mutating func append(_ point: StreamHealthMonitor.Point, channelId: String, sessionId: String, now: Date) {
        var s = series[channelId].flatMap { $0.sessionId == sessionId ? $0 : nil } ?? Series(sessionId: sessionId, points: [], updatedAt: now)
        s.points.append(point)
        let oldest = now.addingTimeInterval(-keep)
        if let first = s.points.firstIndex(where: { $0.at >= oldest }), first > 0 { s.points.removeFirst(first) }
        if s.points.count > Int(keep / 10) + 1 { s.points.removeFirst(s.points.count - Int(keep / 10) - 1) }
        s.updatedAt = now
        series[channelId] = s
        if series.count > maxChannels, let stalest = series.min(by: { $0.value.updatedAt < $1.value.updatedAt })?.key {
            series[stalest] = nil
        }
    }

    /// The channel's points within `window` before `now` (nil: none kept).
    public func points(channelId: String, window: TimeInterval, now: Date) -> Series? {
        guard var s = series[channelId] else { return nil }
        let from = now.addingTimeInterval(-min(window, keep))
        s.points = s.points.filter { $0.at >= from }
        return s
    }

    /// Drops channels with nothing in the last `keep` (called with the health tick).
    public mutating func expire(now: Date) {
        let oldest = now.addingTimeInterval(-keep)
        series = series.filter { $0.value.updatedAt >= oldest }
    }
}
