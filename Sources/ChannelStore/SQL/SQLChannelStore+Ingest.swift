import LiveGateModel
import Foundation
import SQLKit

/// Sessions. Every state change and the event that describes it commit in one transaction
/// (the outbox: SQLChannelStore+Outbox).
extension SQLChannelStore {
    // MARK: Sessions

    /// Adds one ended connection to its session: its figures to the session's, and its entry to
    /// `connections` (by start time; an entry with the same start and address is replaced).
    /// Additive, so nodes that carried the session in turn (a reconnect or a `replace` across
    /// nodes) each add theirs and none overwrites another's.
    public func addSessionConnection(id: String, _ connection: SessionConnection, videoFrames: Int64, audioFrames: Int64,
                                     videoCodec: String?, audioCodec: String?) async throws {
        try await transaction { [self] db in
            guard let row = try await db.raw("SELECT connections, user_id, channel_id, started_ms, ended_ms FROM sessions WHERE id = \(bind: id) \(unsafeRaw: lockRow)").first()
            else { return }
            // Figures of a session that has already ended go to the hourly roll-up too.
            if let ended = try row.decode(column: "ended_ms", as: Int64?.self), let started = try row.decode(column: "started_ms", as: Int64?.self) {
                try await rollUp(db, userId: try row.decode(column: "user_id", as: String?.self), channelId: try row.decode(column: "channel_id", as: String.self),
                                 start: started, end: ended, bytes: Double(connection.bytesIn), degraded: connection.health?.degraded ?? 0,
                                 starving: connection.health?.starving ?? 0, time: false)
            }
            var list = Self.decodeConnections(try row.decode(column: "connections", as: String?.self))
            list.removeAll { $0.startedAt == connection.startedAt && $0.remoteAddr == connection.remoteAddr }
            list.append(connection)
            list.sort { $0.startedAt < $1.startedAt }
            try await db.raw("""
                UPDATE sessions SET bytes_in = bytes_in + \(bind: connection.bytesIn), video_frames = video_frames + \(bind: videoFrames),
                  audio_frames = audio_frames + \(bind: audioFrames), healthy_sec = healthy_sec + \(bind: connection.health?.healthy ?? 0),
                  degraded_sec = degraded_sec + \(bind: connection.health?.degraded ?? 0), starving_sec = starving_sec + \(bind: connection.health?.starving ?? 0),
                  connections = \(bind: JSONValue.array(list.map(\.json)).jsonText),
                  video_codec = COALESCE(\(bind: videoCodec), video_codec), audio_codec = COALESCE(\(bind: audioCodec), audio_codec)
                WHERE id = \(bind: id)
                """).run()
        }
    }

    /// Ends a session with its reason, marks the channel offline (if this session still owns it)
    /// and queues `channel.offline`, atomically, and releases its lease. Nil if the session had
    /// already ended — or, with `byNode`, if its lease is another node's (it moved: that node
    /// ends it).
    public func endSession(id: String, reason: String, now: Date, event: NewEvent, byNode: String?) async throws -> StoredEvent? {
        try await endSession(id: id, reason: reason, endedAt: now, now: now, event: event, byNode: byNode)
    }

    /// Ends the session at `endedAt` (when its last publisher left), recorded `now`.
    public func endSession(id: String, reason: String, endedAt: Date, now: Date, event: NewEvent, byNode: String?) async throws -> StoredEvent? {
        try await endSession(id: id, reason: reason, endedAt: endedAt, now: now, event: event, byNode: byNode, cooldown: nil)
    }

    /// `endSession`, and a limit's cooldown stored with the channel in the same transaction
    /// (docs/contract.md §2, "Limits"): from the moment the end is visible, every node refuses.
    public func endSession(id: String, reason: String, endedAt: Date, now: Date, event: NewEvent, byNode: String?,
                           cooldown: (until: Date, limit: UserLimit)?) async throws -> StoredEvent? {
        try await transaction { [self] db in
            if let cooldown {
                try await db.raw("""
                    UPDATE channels SET cooldown_until = \(bind: Timestamp.format(cooldown.until)), cooldown_limit = \(bind: cooldown.limit.rawValue)
                    WHERE session_id = \(bind: id)
                    """).run()
            }
            let holder = try await db.raw("SELECT node_id FROM channel_leases WHERE session_id = \(bind: id) \(unsafeRaw: lockRow)").first()
                .map { try $0.decode(column: "node_id", as: String.self) }
            if let byNode, let holder, holder != byNode { return nil }
            try await db.raw("DELETE FROM channel_leases WHERE session_id = \(bind: id)").run()
            return try await endOpenSession(db, id: id, reason: reason, endedAt: endedAt, now: now, event: event)?.1
        }
    }

    public func session(id: String) async throws -> SessionRecord? {
        try await read { db in try await db.raw("SELECT * FROM sessions WHERE id = \(bind: id)").first().map(Self.decodeSession) }
    }

    /// Sessions this node left open (after a crash): to be closed with `node_lost` at start-up.
    public func openSessions(nodeId: String) async throws -> [SessionRecord] {
        try await read { db in
            try await db.raw("SELECT * FROM sessions WHERE node_id = \(bind: nodeId) AND ended_at IS NULL ORDER BY started_at").all().map(Self.decodeSession)
        }
    }

    /// A channel's publish history, newest first unless `descending` is false.
    public func sessions(channelId: String, limit: Int, cursor: String?, descending: Bool) async throws -> Page<SessionRecord> {
        let offset = try Cursor.decode(cursor)
        let limit = max(1, min(limit, 100))
        let rows = try await read { db in
            try await db.raw("""
                SELECT * FROM sessions WHERE channel_id = \(bind: channelId) ORDER BY \(unsafeRaw: descending ? "started_at DESC, id DESC" : "started_at, id")
                LIMIT \(unsafeRaw: String(limit + 1)) OFFSET \(unsafeRaw: String(offset))
                """).all()
        }
        let sessions = try rows.map(Self.decodeSession)
        return Page(items: Array(sessions.prefix(limit)), nextCursor: sessions.count > limit ? Cursor.encode(offset + Int64(limit)) : nil)
    }

    public func liveChannelCount(userId: String, excluding channelId: String) async throws -> Int {
        try await read { db in
            try await db.raw("SELECT COUNT(*) AS n FROM channels WHERE user_id = \(bind: userId) AND status IN ('live', 'reconnecting') AND id <> \(bind: channelId)")
                .first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    static func decodeSession(_ row: any SQLRow) throws -> SessionRecord {
        var session = SessionRecord(id: try row.decode(column: "id", as: String.self), channelId: try row.decode(column: "channel_id", as: String.self),
                      nodeId: try row.decode(column: "node_id", as: String.self),
                      startedAt: Timestamp.parse(try row.decode(column: "started_at", as: String.self)),
                      endedAt: try row.decode(column: "ended_at", as: String?.self).map(Timestamp.parse),
                      remoteAddr: try row.decode(column: "remote_addr", as: String.self), encoder: try row.decode(column: "encoder", as: String.self),
                      videoCodec: try row.decode(column: "video_codec", as: String?.self), audioCodec: try row.decode(column: "audio_codec", as: String?.self),
                      bytesIn: try row.decode(column: "bytes_in", as: Int64.self), videoFrames: try row.decode(column: "video_frames", as: Int64.self),
                      audioFrames: try row.decode(column: "audio_frames", as: Int64.self), endReason: try row.decode(column: "end_reason", as: String?.self),
                      connections: Self.decodeConnections(try row.decode(column: "connections", as: String?.self)),
                      userId: try row.decode(column: "user_id", as: String?.self))
        session.media = try row.decode(column: "media", as: String?.self).flatMap(JSONValue.parse)
        session.health = HealthSeconds(healthy: try row.decode(column: "healthy_sec", as: Double.self),
                                       degraded: try row.decode(column: "degraded_sec", as: Double.self),
                                       starving: try row.decode(column: "starving_sec", as: Double.self))
        return session
    }

    /// The session's tracks and `channel.media`, in one transaction (docs/contract.md §2, "Media facts").
    public func recordSessionMedia(id: String, media: JSONValue, event: NewEvent, now: Date) async throws -> StoredEvent? {
        try await transaction { [self] db in
            guard try await db.raw("UPDATE sessions SET media = \(bind: media.jsonText) WHERE id = \(bind: id) AND ended_at IS NULL RETURNING id")
                .first() != nil else { return nil }
            return try await insertEvent(db, event, now: now)
        }
    }

    static func decodeConnections(_ text: String?) -> [SessionConnection] {
        guard let text, case .array(let items)? = JSONValue.parse(text) else { return [] }
        return items.compactMap(SessionConnection.init(json:))
    }
}
