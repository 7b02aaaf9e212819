import Foundation
import LiveGateModel
import SQLKit

/// Insights (docs/api.md, "Insights"): usage by UTC hour or day, summed in SQL. A session
/// wholly inside one bucket of the range is summed by the database; the few that cross a
/// bucket edge (or the range's), or are still open, are read and shared out here by the time
/// they spent in each bucket. Peaks of live channels are counted as sessions start
/// (`live_peaks`, per user and for everyone), so no query walks a year of sessions.
extension SQLChannelStore {
    static func epochMs(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    static func date(ms: Int64) -> Date { Date(timeIntervalSince1970: Double(ms) / 1000) }

    /// Inside the session's insert: the user's (and everyone's) channels live now, kept as
    /// the hour's peak if higher.
    func recordLivePeak(_ db: any SQLDatabase, channelId: String, at: Date) async throws {
        let hour = Self.epochMs(at) / 3_600_000 * 3_600_000
        guard let user = try await db.raw("SELECT user_id FROM channels WHERE id = \(bind: channelId)").first()?
            .decode(column: "user_id", as: String?.self) else { return }
        let mine = try await db.raw("SELECT COUNT(*) AS n FROM sessions WHERE user_id = \(bind: user) AND ended_ms IS NULL").first()?
            .decode(column: "n", as: Int.self) ?? 1
        let all = try await db.raw("SELECT COUNT(*) AS n FROM sessions WHERE ended_ms IS NULL AND user_id IS NOT NULL").first()?
            .decode(column: "n", as: Int.self) ?? 1
        for (who, count) in [(user, mine), ("*", all)] {
            try await db.raw("""
                INSERT INTO live_peaks (user_id, hour_ms, peak) VALUES (\(bind: who), \(bind: hour), \(bind: count))
                ON CONFLICT (user_id, hour_ms) DO UPDATE SET peak = CASE WHEN excluded.peak > live_peaks.peak THEN excluded.peak ELSE live_peaks.peak END
                """).run()
        }
    }

    /// Inside a session's end: the longest session bound, for the user and everyone.
    func recordSessionLength(_ db: any SQLDatabase, userId: String?, length: Int64) async throws {
        for who in [userId ?? "", "*"] {
            try await db.raw("""
                INSERT INTO session_bounds (user_id, longest_ms) VALUES (\(bind: who), \(bind: max(0, length)))
                ON CONFLICT (user_id) DO UPDATE SET longest_ms = CASE WHEN excluded.longest_ms > session_bounds.longest_ms THEN excluded.longest_ms ELSE session_bounds.longest_ms END
                """).run()
        }
    }

    public func usage(_ q: UsageQuery) async throws -> [UsageBucket] {
        let size = q.bucket.milliseconds
        let from = Self.epochMs(q.from), to = Self.epochMs(q.to), now = Self.epochMs(q.now)
        // The buckets: UTC hours or days meeting [from, to), each clipped to the range.
        var buckets: [UsageBucket] = []
        var edge = from / size * size
        while edge < to {
            buckets.append(UsageBucket(start: Self.date(ms: max(edge, from)), end: Self.date(ms: min(edge + size, to))))
            edge += size
        }
        guard !buckets.isEmpty else { return [] }
        let first = from / size
        let index: @Sendable (Int64) -> Int = { ms in Int(ms / size - first) }
        let backend = self.backend
        let empty = buckets
        return try await read { db in
            var buckets = empty
            var filter = SQLQueryString("")
            if let user = q.userId { filter.appendInterpolation(unsafeRaw: " AND user_id = "); filter.appendInterpolation(bind: user) }
            if let channel = q.channelId { filter.appendInterpolation(unsafeRaw: " AND channel_id = "); filter.appendInterpolation(bind: channel) }
            let longest = try await db.raw("SELECT longest_ms FROM session_bounds WHERE user_id = \(bind: q.userId ?? "*")").first()?
                .decode(column: "longest_ms", as: Int64.self) ?? 0
            // 1. Sessions ended inside the range and inside one bucket: summed by the database.
            var whole = SQLQueryString("""
                SELECT started_ms / \(unsafeRaw: String(size)) AS b, CAST(SUM(ended_ms - started_ms) AS BIGINT) AS ms, COUNT(*) AS n,
                  CAST(SUM(bytes_in) AS BIGINT) AS bytes,
                  SUM(degraded_sec) AS deg, SUM(starving_sec) AS stv FROM sessions
                WHERE started_ms >= \(bind: from) AND started_ms < \(bind: to) AND ended_ms IS NOT NULL AND ended_ms <= \(bind: to)
                  AND started_ms / \(unsafeRaw: String(size)) = (ended_ms - 1) / \(unsafeRaw: String(size))
                """)
            whole.appendInterpolation(filter)
            whole.appendInterpolation(unsafeRaw: " GROUP BY started_ms / \(size)")
            for row in try await db.raw(whole).all() {
                let i = index(try row.decode(column: "b", as: Int64.self) * size)
                guard buckets.indices.contains(i) else { continue }
                buckets[i].streamedMs += try row.decode(column: "ms", as: Int64?.self) ?? 0
                buckets[i].sessions += try row.decode(column: "n", as: Int.self)
                buckets[i].bytesIn += Double(try row.decode(column: "bytes", as: Int64?.self) ?? 0)
                buckets[i].degradedSec += try row.decode(column: "deg", as: Double?.self) ?? 0
                buckets[i].starvingSec += try row.decode(column: "stv", as: Double?.self) ?? 0
            }
            // 2. The rest that overlap the range: across an edge, or still open. Shared out by time.
            var rest = SQLQueryString("""
                SELECT started_ms, ended_ms, bytes_in, degraded_sec, starving_sec FROM sessions
                WHERE started_ms >= \(bind: from - longest - 1) AND started_ms < \(bind: to) AND (ended_ms IS NULL OR ended_ms > \(bind: from))
                  AND NOT (started_ms >= \(bind: from) AND ended_ms IS NOT NULL AND ended_ms <= \(bind: to)
                           AND started_ms / \(unsafeRaw: String(size)) = (ended_ms - 1) / \(unsafeRaw: String(size)))
                """)
            rest.appendInterpolation(filter)
            var open = SQLQueryString("SELECT started_ms, ended_ms, bytes_in, degraded_sec, starving_sec FROM sessions WHERE ended_ms IS NULL AND started_ms < \(bind: from - longest - 1)")
            open.appendInterpolation(filter)
            var crossing: [(start: Int64, end: Int64)] = []
            for row in try await db.raw(rest).all() + (try await db.raw(open).all()) {
                let start = try row.decode(column: "started_ms", as: Int64.self)
                let end = try row.decode(column: "ended_ms", as: Int64?.self) ?? max(start, now)
                let length = max(1, end - start)
                let bytes = Double(try row.decode(column: "bytes_in", as: Int64.self))
                let degraded = try row.decode(column: "degraded_sec", as: Double.self), starving = try row.decode(column: "starving_sec", as: Double.self)
                crossing.append((start, end))
                if start >= from && start < to { buckets[index(start)].sessions += 1 }
                var at = max(start, from)
                let stop = min(end, to)
                while at < stop {
                    let i = index(at)
                    let next = min((at / size + 1) * size, stop)
                    let share = Double(next - at) / Double(length)
                    buckets[i].streamedMs += next - at
                    buckets[i].bytesIn += bytes * share
                    buckets[i].degradedSec += degraded * share
                    buckets[i].starvingSec += starving * share
                    at = next
                }
            }
            // 3. Peaks: one channel is a peak of 1 where it streamed; else the peaks counted at
            // each start, and the sessions already live when the bucket began.
            if q.channelId != nil {
                for i in buckets.indices where buckets[i].streamedMs > 0 { buckets[i].peakLive = 1 }
            } else {
                for row in try await db.raw("""
                    SELECT hour_ms, peak FROM live_peaks WHERE user_id = \(bind: q.userId ?? "*") AND hour_ms >= \(bind: from / 3_600_000 * 3_600_000) AND hour_ms < \(bind: to)
                    """).all() {
                    let i = index(max(from, try row.decode(column: "hour_ms", as: Int64.self)))
                    if buckets.indices.contains(i) { buckets[i].peakLive = max(buckets[i].peakLive, try row.decode(column: "peak", as: Int.self)) }
                }
                for i in buckets.indices {
                    let start = Self.epochMs(buckets[i].start)
                    let live = crossing.filter { $0.start < start && $0.end > start }.count
                    buckets[i].peakLive = max(buckets[i].peakLive, live)
                }
            }
            // 4. Refusals and limit events, by reason and limit, from the event log.
            let unit = q.bucket == .hour ? 13 : 10 // "2026-12-05T16" or "2026-12-05"
            let reason = backend == .sqlite ? "json_extract(payload, '$.data.reason')" : "(payload::json)->'data'->>'reason'"
            let limit = backend == .sqlite ? "json_extract(payload, '$.data.limit')" : "(payload::json)->'data'->>'limit'"
            var events = SQLQueryString("""
                SELECT type, substr(created_at, 1, \(unsafeRaw: String(unit))) AS slot,
                  CASE WHEN type = 'channel.publish_rejected' THEN \(unsafeRaw: reason) ELSE \(unsafeRaw: limit) END AS what, COUNT(*) AS n
                FROM events WHERE type IN ('channel.publish_rejected', 'channel.limit_exceeded')
                  AND created_at >= \(bind: Timestamp.format(q.from)) AND created_at < \(bind: Timestamp.format(q.to))
                """)
            events.appendInterpolation(filter)
            events.appendInterpolation(unsafeRaw: " GROUP BY type, substr(created_at, 1, \(unit)), CASE WHEN type = 'channel.publish_rejected' THEN \(reason) ELSE \(limit) END")
            for row in try await db.raw(events).all() {
                let slot = try row.decode(column: "slot", as: String.self)
                let at = Timestamp.parse(slot + (unit == 13 ? ":00:00Z" : "T00:00:00Z"))
                let i = index(max(from, Self.epochMs(at)))
                guard buckets.indices.contains(i) else { continue }
                let what = try row.decode(column: "what", as: String?.self) ?? "unknown"
                let n = try row.decode(column: "n", as: Int.self)
                if try row.decode(column: "type", as: String.self) == "channel.publish_rejected" {
                    buckets[i].rejections[what, default: 0] += n
                } else {
                    buckets[i].limitEvents[what, default: 0] += n
                }
            }
            return buckets
        }
    }
}
