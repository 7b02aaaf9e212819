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
        let to = try q.date("to") ?? now
        let from = try q.date("from") ?? to.addingTimeInterval(bucket == .hour ? -86_400 : -30 * 86_400)
        guard from < to else { throw APIError(.badRequest, ec: 4000, "from must be before to", data: .object(["fields": .object(["from": .string("must be before to")])])) }
        let count = (to.timeIntervalSince1970 * 1000 / Double(bucket.milliseconds)).rounded(.up) - (from.timeIntervalSince1970 * 1000 / Double(bucket.milliseconds)).rounded(.down)
        guard count <= Double(Self.maxBuckets) else {
            let why = "at most \(Self.maxBuckets) buckets: a shorter range, or bucket=day"
            throw APIError(.badRequest, ec: 4000, "from: \(why)", data: .object(["fields": .object(["from": .string(why)])]))
        }
        let (user, empty) = listUser(try q.userId(), context)
        let channelId = q.string("channelId")
        if let channelId, let bound = context.grant?.userId {
            // A bound token asks about its own channels only (another's is "not found").
            guard let channel = try await store.channel(id: channelId), channel.userId == bound else { throw APIError.notFound("channel") }
        }
        // A bound token naming another user: nothing of theirs.
        let buckets = empty ? [] : try await store.usage(UsageQuery(userId: user, channelId: channelId, from: from, to: to, bucket: bucket, now: now))
        var total = UsageBucket(start: from, end: to)
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
            "from": .string(Timestamp.format(from)), "to": .string(Timestamp.format(to)), "bucket": .string(bucket.rawValue),
            "userId": user.map { .string($0) } ?? .null, "channelId": channelId.map { .string($0) } ?? .null,
            "buckets": .array(buckets.map(\.json)), "totals": total.json,
        ]))
    }
}
