import LiveGateModel
import Foundation
import SQLKit

extension SQLChannelStore {
    public func userLimits(userId: String) async throws -> UserLimits {
        try await read { db in
            guard let row = try await db.raw("SELECT * FROM user_limits WHERE user_id = \(bind: userId)").first() else { return UserLimits() }
            return try Self.decodeLimits(row)
        }
    }

    public func clearCooldown(channelId: String, now: Date) async throws -> Channel? {
        try await transaction { db in
            try await db.raw("""
                UPDATE channels SET cooldown_until = NULL, cooldown_limit = NULL WHERE id = \(bind: channelId) RETURNING *
                """).first().map(Self.decodeChannel)
        }
    }

    static func decodeLimits(_ row: any SQLRow) throws -> UserLimits {
            let codecs = try row.decode(column: "allowed_video_codecs", as: String?.self).flatMap(JSONValue.parse)
            return UserLimits(
                maxChannels: try row.decode(column: "max_channels", as: Int?.self),
                maxConcurrentLive: try row.decode(column: "max_concurrent_live", as: Int?.self),
                maxBitrateKbps: try row.decode(column: "max_bitrate_kbps", as: Int?.self),
                maxWidth: try row.decode(column: "max_width", as: Int?.self),
                maxHeight: try row.decode(column: "max_height", as: Int?.self),
                maxFps: try row.decode(column: "max_fps", as: Double?.self),
                maxSessionSec: try row.decode(column: "max_session_sec", as: Int?.self),
                allowedVideoCodecs: codecs.flatMap { v -> [String]? in
                    if case .array(let a) = v { return a.compactMap { if case .string(let s) = $0 { s } else { nil } } }
                    return nil
                },
                retentionDays: try row.decode(column: "retention_days", as: Int?.self))
    }

    public func setUserLimits(userId: String, _ l: UserLimits, now: Date) async throws {
        let codecs = l.allowedVideoCodecs.map { JSONValue.array($0.map { .string($0) }).jsonText }
        try await transaction { db in
            let before = try await db.raw("SELECT * FROM user_limits WHERE user_id = \(bind: userId)").first().map(Self.decodeLimits) ?? UserLimits()
            // A cooldown ends when the operator raises or removes the limit that started it.
            let eased = UserLimit.allCases.filter { l.eases($0, comparedWith: before) }
            for limit in eased {
                try await db.raw("""
                    UPDATE channels SET cooldown_until = NULL, cooldown_limit = NULL WHERE user_id = \(bind: userId) AND cooldown_limit = \(bind: limit.rawValue)
                    """).run()
            }
            try await db.raw("DELETE FROM user_limits WHERE user_id = \(bind: userId)").run()
            try await db.raw("""
                INSERT INTO user_limits (user_id, max_channels, max_concurrent_live, max_bitrate_kbps, max_width, max_height, max_fps,
                  max_session_sec, allowed_video_codecs, updated_at, retention_days)
                VALUES (\(bind: userId), \(bind: l.maxChannels), \(bind: l.maxConcurrentLive), \(bind: l.maxBitrateKbps), \(bind: l.maxWidth),
                  \(bind: l.maxHeight), \(bind: l.maxFps), \(bind: l.maxSessionSec), \(bind: codecs), \(bind: Timestamp.format(now)),
                  \(bind: l.retentionDays))
                """).run()
        }
    }

    public func usage(userId: String) async throws -> UserUsage {
        try await read { db in
            let row = try await db.raw("""
                SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN status IN ('live', 'reconnecting') THEN 1 ELSE 0 END), 0) AS live
                FROM channels WHERE user_id = \(bind: userId)
                """).first()
            let videos = try await db.raw("""
                SELECT COUNT(*) AS n, CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) AS bytes FROM videos WHERE user_id = \(bind: userId)
                """).first()
            return UserUsage(channels: try row?.decode(column: "n", as: Int.self) ?? 0, liveChannels: try row?.decode(column: "live", as: Int.self) ?? 0,
                             videos: try videos?.decode(column: "n", as: Int.self) ?? 0, videoBytes: try videos?.decode(column: "bytes", as: Int64.self) ?? 0)
        }
    }
}
