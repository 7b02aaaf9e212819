import Foundation

/// `GET /v1/insights/usage` (docs/api.md, "Insights"): what was streamed, by UTC hour or day.
public struct UsageQuery: Sendable, Equatable {
    public enum Bucket: String, Sendable, CaseIterable {
        case hour, day
        public var milliseconds: Int64 { self == .hour ? 3_600_000 : 86_400_000 }
    }

    public var userId: String?
    public var channelId: String?
    public var from: Date
    public var to: Date
    public var bucket: Bucket
    /// Sessions still open count until now.
    public var now: Date

    public init(userId: String?, channelId: String?, from: Date, to: Date, bucket: Bucket, now: Date) {
        self.userId = userId
        self.channelId = channelId
        self.from = from
        self.to = to
        self.bucket = bucket
        self.now = now
    }
}

/// One bucket's figures. A session is counted in each bucket for the time it spent there;
/// its bytes and health time are shared out in proportion; `sessions` counts the ones that
/// started in the bucket.
public struct UsageBucket: Sendable, Equatable {
    public var start: Date
    public var end: Date
    public var streamedMs: Int64 = 0
    public var sessions = 0
    public var bytesIn: Double = 0
    public var degradedSec: Double = 0
    public var starvingSec: Double = 0
    public var peakLive = 0
    public var rejections: [String: Int] = [:]
    public var limitEvents: [String: Int] = [:]

    public init(start: Date, end: Date) {
        self.start = start
        self.end = end
    }

    public var json: JSONValue {
        func minutes(_ v: Double) -> JSONValue { .number((v / 60 * 100).rounded() / 100) }
        return .object([
            "start": .string(Timestamp.format(start)), "end": .string(Timestamp.format(end)),
            "minutesStreamed": minutes(Double(streamedMs) / 1000), "sessions": .number(Double(sessions)),
            "bytesIngested": .number(bytesIn.rounded()), "peakConcurrentLive": .number(Double(peakLive)),
            "rejections": .object(rejections.mapValues { .number(Double($0)) }),
            "limitEvents": .object(limitEvents.mapValues { .number(Double($0)) }),
            "minutesDegraded": minutes(degradedSec), "minutesStarving": minutes(starvingSec),
        ])
    }
}
