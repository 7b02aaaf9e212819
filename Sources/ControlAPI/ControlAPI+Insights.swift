import Foundation
import Hummingbird
import LiveGateModel

/// `GET /v1/insights/usage` (docs/api.md, "Insights"): the seed's "how much did this user
/// stream", by UTC hour or day.
extension ControlAPI {
    static let insightsFilters: [QueryParameter] = [
        .string("userId", "One user's channels (a token bound to a user sees its own)", maxLength: 128, pattern: InputRules.userIdPattern),
        .string("channelId", "One channel", maxLength: 128),
        .time("from", "Start (RFC 3339; default: 30 days, or 24 hours by hour, before `to`)"),
        .time("to", "End, exclusive (RFC 3339; default: now)"),
        .oneOf("bucket", UsageQuery.Bucket.allCases.map(\.rawValue), "UTC hours or days (default: day)"),
    ]
    /// At most this many buckets per answer.
    static let maxBuckets = 1000

    func insightsUsage(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let q = QueryReader(request: request)
        let bucket = q.string("bucket").flatMap(UsageQuery.Bucket.init(rawValue:)) ?? .day
        let now = Date()
        // Nothing was streamed before 1970: a range is answered from then on (and dates before
        // the Gregorian reform would not print as valid RFC 3339 anyway).
        let epoch = Date(timeIntervalSince1970: 0)
        let to = max(epoch, try q.date("to") ?? now)
        let from = max(epoch, try q.date("from") ?? to.addingTimeInterval(bucket == .hour ? -86_400 : -30 * 86_400))
        // At most `maxBuckets` per answer: a longer range is answered up to there, with where
        // the next answer starts (`nextFrom`). An empty range (from ≥ to) has no buckets.
        let size = Double(bucket.milliseconds) / 1000
        let firstEdge = (from.timeIntervalSince1970 / size).rounded(.down) * size
        let limit = Date(timeIntervalSince1970: firstEdge + size * Double(Self.maxBuckets))
        let end = min(to, limit)
        let nextFrom: Date? = to > limit ? limit : nil
        let (user, empty) = listUser(try q.userId(), context)
        let channelId = q.string("channelId")
        if let channelId, let bound = context.grant?.userId {
            // A bound token asks about its own channels only (another's is "not found").
            guard let channel = try await store.channel(id: channelId), channel.userId == bound else { throw APIError.notFound("channel") }
        }
        // A bound token naming another user: nothing of theirs.
        let buckets = empty || from >= end ? [] : try await store.usage(UsageQuery(userId: user, channelId: channelId, from: from, to: end, bucket: bucket, now: now))
        var total = UsageBucket(start: from, end: max(from, end))
        for b in buckets {
            total.streamedMs += b.streamedMs
            total.sessions += b.sessions
            total.bytesIn += b.bytesIn
            total.degradedSec += b.degradedSec
            total.starvingSec += b.starvingSec
            total.peakLive = max(total.peakLive, b.peakLive)
            for (k, v) in b.rejections { total.rejections[k, default: 0] += v }
            for (k, v) in b.limitEvents { total.limitEvents[k, default: 0] += v }
        }
        return Envelope.response(data: .object([
            "from": .string(Timestamp.format(from)), "to": .string(Timestamp.format(max(from, end))), "bucket": .string(bucket.rawValue),
            "nextFrom": nextFrom.map { .string(Timestamp.format($0)) } ?? .null,
            "userId": user.map { .string($0) } ?? .null, "channelId": channelId.map { .string($0) } ?? .null,
            "buckets": .array(buckets.map(\.json)), "totals": total.json,
        ]))
    }
}
