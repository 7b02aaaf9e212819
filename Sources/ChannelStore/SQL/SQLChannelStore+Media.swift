import LiveGateModel
import Foundation
import SQLKit

/// Recordings (videos) and push targets (forwards): docs/contract.md §3 and the videos/forwards rows of §4.
extension SQLChannelStore {
    // MARK: Videos

    /// Records a finished recording and queues its `video.ready` event in one transaction.
    public func createVideo(_ video: Video, event: NewEvent, now: Date) async throws -> StoredEvent {
        try await transaction { [self] db in
            try await db.raw("""
                INSERT INTO videos (id, channel_id, user_id, session_id, name, path, duration_sec, size_bytes, video_codec, audio_codec,
                  width, height, created_at, node_id)
                VALUES (\(bind: video.id), \(bind: video.channelId), \(bind: video.userId), \(bind: video.sessionId), \(bind: video.name),
                  \(bind: video.path), \(bind: video.durationSec), \(bind: video.sizeBytes), \(bind: video.videoCodec), \(bind: video.audioCodec),
                  \(bind: video.width), \(bind: video.height), \(bind: Timestamp.format(video.createdAt)), \(bind: video.nodeId))
                """).run()
            return try await insertEvent(db, event, now: now)
        }
    }

    public func video(id: String) async throws -> Video? {
        try await read { db in try await db.raw("SELECT * FROM videos WHERE id = \(bind: id)").first() }.map(Self.decodeVideo)
    }

    public func video(path: String) async throws -> Video? {
        try await read { db in try await db.raw("SELECT * FROM videos WHERE path = \(bind: path)").first() }.map(Self.decodeVideo)
    }

    /// Deletes the row, logs `video.deleted` (why: `deleted` through the API, `retention`) and
    /// queues the file's removal on the node that holds it (`byNode` for a recording with no
    /// node on record), all in one transaction; nil when it was already gone (so of two nodes
    /// sweeping, one logs it). The owner applies the queued removal (`fileDeletions`).
    public func deleteVideo(id: String, reason: String, now: Date, byNode: String) async throws -> Video? {
        try await transaction { [self] db in
            guard let row = try await db.raw("DELETE FROM videos WHERE id = \(bind: id) RETURNING *").first() else { return nil }
            let video = try Self.decodeVideo(row)
            try await db.raw("""
                INSERT INTO file_deletions (node_id, path, requested_at) VALUES (\(bind: video.nodeId ?? byNode), \(bind: video.path), \(bind: Timestamp.format(now)))
                """).run()
            let channel = try await db.raw("SELECT \(unsafeRaw: Self.channelColumns) FROM channels WHERE id = \(bind: video.channelId)").first()
                .map(Self.decodeChannel)
            _ = try await insertEvent(db, .make(type: EventType.videoDeleted.rawValue, channelId: video.channelId, userId: video.userId, at: now,
                                                data: .object(["channel": channel?.eventJSON ?? .null, "video": video.json, "reason": .string(reason)])),
                                      now: now)
            return video
        }
    }

    /// Recordings older than their owner's retention, oldest first: `retentionDays` of the
    /// user's config, else `defaultDays` (nil: keep for ever).
    public func expiredVideos(defaultDays: Double?, now: Date, limit: Int) async throws -> [Video] {
        try await read { db in
            var overrides: [String: Int] = [:]
            for row in try await db.raw("SELECT user_id, retention_days FROM user_limits WHERE retention_days IS NOT NULL").all() {
                overrides[try row.decode(column: "user_id", as: String.self)] = try row.decode(column: "retention_days", as: Int.self)
            }
            let shortest = ([defaultDays].compactMap { $0 } + overrides.values.map(Double.init)).min()
            guard let shortest else { return [] }
            let oldest = Timestamp.format(now.addingTimeInterval(-shortest * 86_400))
            var expired: [Video] = []
            for row in try await db.raw("SELECT * FROM videos WHERE created_at < \(bind: oldest) ORDER BY created_at LIMIT 1000").all() {
                let video = try Self.decodeVideo(row)
                guard let days = overrides[video.userId].map(Double.init) ?? defaultDays else { continue }
                if video.createdAt < now.addingTimeInterval(-days * 86_400) { expired.append(video) }
                if expired.count >= limit { break }
            }
            return expired
        }
    }

    static func decodeVideo(_ row: any SQLRow) throws -> Video {
        Video(id: try row.decode(column: "id", as: String.self), channelId: try row.decode(column: "channel_id", as: String.self),
              userId: try row.decode(column: "user_id", as: String.self), sessionId: try row.decode(column: "session_id", as: String?.self),
              name: try row.decode(column: "name", as: String.self), path: try row.decode(column: "path", as: String.self),
              durationSec: try row.decode(column: "duration_sec", as: Double.self),
              sizeBytes: try row.decode(column: "size_bytes", as: Int64.self), videoCodec: try row.decode(column: "video_codec", as: String?.self),
              audioCodec: try row.decode(column: "audio_codec", as: String?.self), width: try row.decode(column: "width", as: Int?.self),
              height: try row.decode(column: "height", as: Int?.self),
              createdAt: Timestamp.parse(try row.decode(column: "created_at", as: String.self)),
              nodeId: try row.decode(column: "node_id", as: String?.self))
    }

    // MARK: File deletions

    /// Removals queued for `nodeId`'s disk, oldest first.
    public func fileDeletions(nodeId: String, limit: Int) async throws -> [FileDeletion] {
        try await read { db in
            try await db.raw("""
                SELECT seq, node_id, path, requested_at, attempts FROM file_deletions WHERE node_id = \(bind: nodeId) ORDER BY seq LIMIT \(bind: limit)
                """).all().map { row in
                FileDeletion(seq: try row.decode(column: "seq", as: Int64.self), nodeId: try row.decode(column: "node_id", as: String.self),
                             path: try row.decode(column: "path", as: String.self),
                             requestedAt: Timestamp.parse(try row.decode(column: "requested_at", as: String.self)),
                             attempts: try row.decode(column: "attempts", as: Int.self))
            }
        }
    }

    /// The file is gone: the removal is done.
    public func finishFileDeletion(seq: Int64) async throws {
        try await write { db in try await db.raw("DELETE FROM file_deletions WHERE seq = \(bind: seq)").run() }
    }

    /// The removal failed this time (kept, tried again).
    public func failFileDeletion(seq: Int64, error: String) async throws {
        try await write { db in
            try await db.raw("UPDATE file_deletions SET attempts = attempts + 1, last_error = \(bind: String(error.prefix(500))) WHERE seq = \(bind: seq)").run()
        }
    }

    /// Removals queued for nodes, by node (for `/v1/system` and tests).
    public func pendingFileDeletions() async throws -> [String: Int] {
        try await read { db in
            var byNode: [String: Int] = [:]
            for row in try await db.raw("SELECT node_id, COUNT(*) AS n FROM file_deletions GROUP BY node_id").all() {
                byNode[try row.decode(column: "node_id", as: String.self)] = try row.decode(column: "n", as: Int.self)
            }
            return byNode
        }
    }

    /// The key node-to-node requests are signed with when `cluster.secret` is not configured:
    /// made by the migration that created the table, the same for every node on this database.
    public func clusterSecret() async throws -> String? {
        try await read { db in
            try await db.raw("SELECT value FROM cluster_settings WHERE name = 'secret'").first()?.decode(column: "value", as: String.self)
        }
    }

    // MARK: Forwards

    /// Adds a push target; at most `Forward.maxPerChannel` per channel, checked atomically.
    public func createForward(id: String, channelId: String, url: String, enabled: Bool, enhanced: Bool, now: Date) async throws -> Forward {
        let ts = Timestamp.format(now)
        return try await transaction { db in
            let count = try await db.raw("SELECT COUNT(*) AS n FROM forwards WHERE channel_id = \(bind: channelId)").first()?
                .decode(column: "n", as: Int.self) ?? 0
            if count >= Forward.maxPerChannel { throw StoreError.limitReached("forwards") }
            try await db.raw("""
                INSERT INTO forwards (id, channel_id, url, enabled, enhanced, created_at, updated_at)
                VALUES (\(bind: id), \(bind: channelId), \(bind: url), \(bind: enabled ? 1 : 0), \(bind: enhanced ? 1 : 0), \(bind: ts), \(bind: ts))
                """).run()
            return Forward(id: id, channelId: channelId, url: url, enabled: enabled, enhanced: enhanced, createdAt: Timestamp.parse(ts),
                           updatedAt: Timestamp.parse(ts))
        }
    }

    public func forwards(channelId: String) async throws -> [Forward] {
        try await read { db in
            try await db.raw("SELECT * FROM forwards WHERE channel_id = \(bind: channelId) ORDER BY seq").all()
        }.map(Self.decodeForward)
    }

    public func forward(id: String, channelId: String) async throws -> Forward? {
        try await read { db in
            try await db.raw("SELECT * FROM forwards WHERE id = \(bind: id) AND channel_id = \(bind: channelId)").first()
        }.map(Self.decodeForward)
    }

    public func updateForward(id: String, channelId: String, url: String?, enabled: Bool?, enhanced: Bool?, now: Date) async throws -> Forward? {
        try await transaction { db in
            guard let row = try await db.raw("SELECT * FROM forwards WHERE id = \(bind: id) AND channel_id = \(bind: channelId)").first() else {
                return nil
            }
            var forward = try Self.decodeForward(row)
            if let url { forward.url = url }
            if let enabled { forward.enabled = enabled }
            if let enhanced { forward.enhanced = enhanced }
            let ts = Timestamp.format(now)
            forward.updatedAt = Timestamp.parse(ts)
            try await db.raw("""
                UPDATE forwards SET url = \(bind: forward.url), enabled = \(bind: forward.enabled ? 1 : 0),
                  enhanced = \(bind: forward.enhanced ? 1 : 0), updated_at = \(bind: ts)
                WHERE id = \(bind: id)
                """).run()
            return forward
        }
    }

    public func deleteForward(id: String, channelId: String) async throws -> Bool {
        try await transaction { db in
            let exists = try await db.raw("SELECT id FROM forwards WHERE id = \(bind: id) AND channel_id = \(bind: channelId)").first() != nil
            if exists { try await db.raw("DELETE FROM forwards WHERE id = \(bind: id)").run() }
            return exists
        }
    }

    static func decodeForward(_ row: any SQLRow) throws -> Forward {
        Forward(id: try row.decode(column: "id", as: String.self), channelId: try row.decode(column: "channel_id", as: String.self),
                url: try row.decode(column: "url", as: String.self), enabled: try row.decode(column: "enabled", as: Int.self) != 0,
                enhanced: try row.decode(column: "enhanced", as: Int.self) != 0,
                createdAt: Timestamp.parse(try row.decode(column: "created_at", as: String.self)),
                updatedAt: Timestamp.parse(try row.decode(column: "updated_at", as: String.self)))
    }
}
