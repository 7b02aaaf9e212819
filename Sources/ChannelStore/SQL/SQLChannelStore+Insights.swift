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
    /// the hour's peak if higher. One statement (it was five: the owner, two counts, two
    /// upserts): it runs inside the transaction a publisher waits on for `Publish.Start`, where
    /// each statement is a round trip to the database's thread (BENCHMARKS.md, "Where an
    /// accept's time goes"). A channel without an owner records nothing. (`WHERE true` lets
    /// SQLite tell the upsert's `ON CONFLICT` from a join's `ON`.)
    func recordLivePeak(_ db: any SQLDatabase, channelId: String, at: Date) async throws {
        try await db.raw(Self.livePeakStatement(channelId: channelId, at: at)).run()
    }

    /// The statement `recordLivePeak` runs. PostgreSQL's session start also runs it as a part
    /// of the one statement that writes the session (`startSessionInOneStatement`), named there
    /// `startedIn`: a part sees none of the others' rows, so the session being written is
    /// counted by adding one, and nothing is recorded unless it was written.
    static func livePeakStatement(channelId: String, at: Date, startedIn part: String? = nil) -> SQLQueryString {
        let hour = Self.epochMs(at) / 3_600_000 * 3_600_000
        let plus = SQLQueryString(part == nil ? "" : " + 1")
        let written = SQLQueryString(part.map { " AND EXISTS (SELECT 1 FROM \($0))" } ?? "")
        return """
            INSERT INTO live_peaks (user_id, hour_ms, peak)
            SELECT who, \(bind: hour), n\(plus) FROM (
              SELECT c.user_id AS who, (SELECT COUNT(*) FROM sessions s WHERE s.user_id = c.user_id AND s.ended_ms IS NULL) AS n
                FROM channels c WHERE c.id = \(bind: channelId) AND c.user_id IS NOT NULL\(written)
              UNION ALL
              SELECT '*' AS who, (SELECT COUNT(*) FROM sessions s WHERE s.ended_ms IS NULL AND s.user_id IS NOT NULL) AS n
                FROM channels c WHERE c.id = \(bind: channelId) AND c.user_id IS NOT NULL\(written)
            ) AS counts WHERE true
            ON CONFLICT (user_id, hour_ms) DO UPDATE SET peak = CASE WHEN excluded.peak > live_peaks.peak THEN excluded.peak ELSE live_peaks.peak END
            """
    }

    /// Adds a session's share of each UTC hour it met to `usage_hourly`, for its user, its
    /// channel and everyone: at its end (`time`: its time, its start, the hours it was live
    /// at), or figures a connection added after it ended (bytes and health only).
    func rollUp(_ db: any SQLDatabase, userId: String?, channelId: String, start: Int64, end: Int64, bytes: Double, degraded: Double,
                starving: Double, time: Bool) async throws {
        guard let userId, end >= start else { return }
        let length = Double(max(1, end - start))
        var hour = start / 3_600_000 * 3_600_000
        var first = true
        repeat {
            let part = min(end, hour + 3_600_000) - max(start, hour)
            let share = Double(part) / length
            for scope in ["u:" + userId, "c:" + channelId, "*"] {
                try await db.raw("""
                    INSERT INTO usage_hourly (scope, hour_ms, streamed_ms, sessions, bytes_in, degraded_sec, starving_sec, live_at_start)
                    VALUES (\(bind: scope), \(bind: hour), \(bind: time ? part : 0), \(bind: time && first ? 1 : 0), \(bind: bytes * share),
                      \(bind: degraded * share), \(bind: starving * share), \(bind: time && !first ? 1 : 0))
                    ON CONFLICT (scope, hour_ms) DO UPDATE SET streamed_ms = usage_hourly.streamed_ms + excluded.streamed_ms,
                      sessions = usage_hourly.sessions + excluded.sessions, bytes_in = usage_hourly.bytes_in + excluded.bytes_in,
                      degraded_sec = usage_hourly.degraded_sec + excluded.degraded_sec, starving_sec = usage_hourly.starving_sec + excluded.starving_sec,
                      live_at_start = usage_hourly.live_at_start + excluded.live_at_start
                    """).run()
            }
            first = false
            hour += 3_600_000
        } while hour < end
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
        let size = q.bucket.milliseconds, hourMs: Int64 = 3_600_000
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
        // The whole hours of the range come from the roll-up; the parts of an hour at its ends
        // (a range not on the hour) from the sessions themselves.
        let wholeFrom = (from + hourMs - 1) / hourMs * hourMs, wholeTo = to / hourMs * hourMs
        let scope = q.channelId.map { "c:" + $0 } ?? q.userId.map { "u:" + $0 } ?? "*"
        return try await read { db in
            var buckets = empty
            var filter = SQLQueryString("")
            if let user = q.userId { filter.appendInterpolation(unsafeRaw: " AND user_id = "); filter.appendInterpolation(bind: user) }
            if let channel = q.channelId { filter.appendInterpolation(unsafeRaw: " AND channel_id = "); filter.appendInterpolation(bind: channel) }
            let longest = try await db.raw("SELECT longest_ms FROM session_bounds WHERE user_id = \(bind: q.userId ?? "*")").first()?
                .decode(column: "longest_ms", as: Int64.self) ?? 0

            /// Shares the sessions overlapping [lo, hi) out over the buckets (`openOnly`: just
            /// those not ended, the roll-up having the rest).
            func spread(_ lo: Int64, _ hi: Int64, openOnly: Bool) async throws -> [(start: Int64, end: Int64)] {
                guard lo < hi else { return [] }
                var sql: SQLQueryString
                if openOnly {
                    // Only the open-session indexes (partial: `ended_ms IS NULL`) are worth reading.
                    sql = SQLQueryString("SELECT started_ms, ended_ms, bytes_in, degraded_sec, starving_sec FROM sessions WHERE ended_ms IS NULL")
                } else {
                    sql = SQLQueryString("""
                        SELECT started_ms, ended_ms, bytes_in, degraded_sec, starving_sec FROM sessions
                        WHERE started_ms < \(bind: hi) AND (ended_ms IS NULL OR ended_ms > \(bind: lo))
                        """)
                    // Ended ones started at most the longest session before; open ones whenever.
                    sql.appendInterpolation(unsafeRaw: " AND (ended_ms IS NULL OR started_ms >= ")
                    sql.appendInterpolation(bind: lo - longest - 1)
                    sql.appendInterpolation(unsafeRaw: ")")
                }
                sql.appendInterpolation(filter)
                var spans: [(start: Int64, end: Int64)] = []
                for row in try await db.raw(sql).all() {
                    let start = try row.decode(column: "started_ms", as: Int64.self)
                    let ended = try row.decode(column: "ended_ms", as: Int64?.self)
                    let end = ended ?? max(start, now)
                    guard start < hi, end > lo else { continue }
                    spans.append((start, end))
                    let length = Double(max(1, end - start))
                    let bytes = Double(try row.decode(column: "bytes_in", as: Int64.self))
                    let degraded = try row.decode(column: "degraded_sec", as: Double.self), starving = try row.decode(column: "starving_sec", as: Double.self)
                    if start >= lo && start < hi { buckets[index(start)].sessions += 1 }
                    var at = max(start, lo)
                    let stop = min(end, hi)
                    while at < stop {
                        let next = min((at / size + 1) * size, stop)
                        let i = index(at), share = Double(next - at) / length
                        buckets[i].streamedMs += next - at
                        buckets[i].bytesIn += bytes * share
                        buckets[i].degradedSec += degraded * share
                        buckets[i].starvingSec += starving * share
                        at = next
                    }
                }
                return spans
            }

            var openSpans: [(start: Int64, end: Int64)] = []
            if wholeFrom < wholeTo {
                // 1. Whole hours: the roll-up of ended sessions, summed by bucket in SQL.
                let rows = try await db.raw("""
                    SELECT hour_ms / \(unsafeRaw: String(size)) AS b, CAST(SUM(streamed_ms) AS BIGINT) AS ms, CAST(SUM(sessions) AS BIGINT) AS n,
                      SUM(bytes_in) AS bytes, SUM(degraded_sec) AS deg, SUM(starving_sec) AS stv,
                      MAX(CASE WHEN hour_ms % \(unsafeRaw: String(size)) = 0 OR hour_ms = \(bind: wholeFrom) THEN live_at_start ELSE 0 END) AS live
                    FROM usage_hourly WHERE scope = \(bind: scope) AND hour_ms >= \(bind: wholeFrom) AND hour_ms < \(bind: wholeTo)
                    GROUP BY hour_ms / \(unsafeRaw: String(size))
                    """).all()
                for row in rows {
                    let i = index(max(from, try row.decode(column: "b", as: Int64.self) * size))
                    guard buckets.indices.contains(i) else { continue }
                    buckets[i].streamedMs += try row.decode(column: "ms", as: Int64?.self) ?? 0
                    buckets[i].sessions += Int(try row.decode(column: "n", as: Int64?.self) ?? 0)
                    buckets[i].bytesIn += try row.decode(column: "bytes", as: Double?.self) ?? 0
                    buckets[i].degradedSec += try row.decode(column: "deg", as: Double?.self) ?? 0
                    buckets[i].starvingSec += try row.decode(column: "stv", as: Double?.self) ?? 0
                    buckets[i].peakLive = max(buckets[i].peakLive, try row.decode(column: "live", as: Int?.self) ?? 0)
                }
                // Sessions still open are not rolled up yet.
                openSpans = try await spread(wholeFrom, wholeTo, openOnly: true)
                // 2. The parts of an hour at the range's ends.
                openSpans += try await spread(from, wholeFrom, openOnly: false)
                openSpans += try await spread(wholeTo, to, openOnly: false)
            } else {
                openSpans = try await spread(from, to, openOnly: false)
            }
            // 3. Peaks: one channel is a peak of 1 where it streamed; else the peaks counted at
            // each start, the hours' live-at-start, and the spans read here live when a bucket began.
            if q.channelId != nil {
                for i in buckets.indices { buckets[i].peakLive = buckets[i].streamedMs > 0 ? 1 : 0 }
            } else {
                for row in try await db.raw("""
                    SELECT MIN(hour_ms) AS hour_ms, MAX(peak) AS peak FROM live_peaks
                    WHERE user_id = \(bind: q.userId ?? "*") AND hour_ms >= \(bind: from / hourMs * hourMs) AND hour_ms < \(bind: to)
                    GROUP BY hour_ms / \(unsafeRaw: String(size))
                    """).all() {
                    let i = index(max(from, try row.decode(column: "hour_ms", as: Int64.self)))
                    if buckets.indices.contains(i) { buckets[i].peakLive = max(buckets[i].peakLive, try row.decode(column: "peak", as: Int.self)) }
                }
                for i in buckets.indices {
                    let start = Self.epochMs(buckets[i].start)
                    let live = openSpans.filter { $0.start < start && $0.end > start }.count
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
