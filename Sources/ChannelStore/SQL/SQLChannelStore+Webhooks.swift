import LiveGateModel
import Foundation
import SQLKit

extension SQLChannelStore {
    static func jsonStrings(_ values: [String]) -> String { JSONValue.array(values.map { .string($0) }).jsonText }

    static func parseStrings(_ text: String) -> [String] {
        if case .array(let a)? = JSONValue.parse(text) { return a.compactMap { if case .string(let s) = $0 { s } else { nil } } }
        return []
    }

    static func decodeWebhook(_ row: any SQLRow) throws -> Webhook {
        Webhook(id: try row.decode(column: "id", as: String.self), url: try row.decode(column: "url", as: String.self),
                secret: try row.decode(column: "secret", as: String.self),
                events: parseStrings(try row.decode(column: "events", as: String.self)),
                channelIds: parseStrings(try row.decode(column: "channel_ids", as: String.self)),
                userIds: parseStrings(try row.decode(column: "user_ids", as: String.self)),
                enabled: try row.decode(column: "enabled", as: Int.self) != 0,
                createdAt: Timestamp.parse(try row.decode(column: "created_at", as: String.self)),
                updatedAt: Timestamp.parse(try row.decode(column: "updated_at", as: String.self)),
                failingSince: try row.decode(column: "failing_since", as: String?.self).map(Timestamp.parse),
                disabledAt: try row.decode(column: "disabled_at", as: String?.self).map(Timestamp.parse),
                disabledReason: try row.decode(column: "disabled_reason", as: String?.self),
                disabledBy: try row.decode(column: "disabled_by", as: String?.self).flatMap(Webhook.DisabledBy.init(rawValue:)),
                previousSecret: try row.decode(column: "previous_secret", as: String?.self),
                previousSecretUntil: try row.decode(column: "previous_secret_until", as: String?.self).map(Timestamp.parse))
    }

    /// Replaces the secret; the old one keeps signing beside it until `overlapUntil` (a
    /// rotation during an overlap drops the older one at once: at most two sign).
    public func rotateWebhookSecret(id: String, newSecret: String, overlapUntil: Date, now: Date) async throws -> Webhook? {
        let ts = Timestamp.format(now)
        return try await transaction { db in
            try await db.raw("""
                UPDATE webhooks SET previous_secret = secret, previous_secret_until = \(bind: Timestamp.format(overlapUntil)),
                  secret = \(bind: newSecret), updated_at = \(bind: ts)
                WHERE id = \(bind: id) RETURNING *
                """).first().map(Self.decodeWebhook)
        }
    }

    public func createWebhook(id: String, secret: String, fields: WebhookFields, now: Date) async throws -> Webhook {
        let hook = Webhook(id: id, url: fields.url ?? "", secret: secret, events: fields.events ?? [], channelIds: fields.channelIds ?? [],
                           userIds: fields.userIds ?? [], enabled: fields.enabled ?? true, createdAt: now, updatedAt: now)
        let ts = Timestamp.format(now)
        try await transaction { db in
            try await db.raw("""
                INSERT INTO webhooks (id, url, secret, events, channel_ids, user_ids, enabled, created_at, updated_at)
                VALUES (\(bind: hook.id), \(bind: hook.url), \(bind: hook.secret), \(bind: Self.jsonStrings(hook.events)),
                  \(bind: Self.jsonStrings(hook.channelIds)), \(bind: Self.jsonStrings(hook.userIds)), \(bind: hook.enabled ? 1 : 0),
                  \(bind: ts), \(bind: ts))
                """).run()
        }
        return try await webhook(id: id) ?? hook
    }

    public func webhook(id: String) async throws -> Webhook? {
        try await read { db in try await db.raw("SELECT * FROM webhooks WHERE id = \(bind: id)").first().map(Self.decodeWebhook) }
    }

    public func listWebhooks(limit: Int, cursor: String?, descending: Bool) async throws -> Page<Webhook> {
        let (position, order) = try Self.keyset(cursor, descending: descending)
        let limit = max(1, min(limit, 100))
        let rows = try await read { db in
            try await db.raw("SELECT * FROM webhooks WHERE \(position)\(unsafeRaw: order) LIMIT \(unsafeRaw: String(limit + 1))").all()
        }
        let hooks = try rows.map(Self.decodeWebhook)
        let next = hooks.count > limit ? try rows[limit - 1].decode(column: "seq", as: Int64.self) : nil
        return Page(items: Array(hooks.prefix(limit)), nextCursor: next.map(Cursor.encode))
    }

    public func updateWebhook(id: String, fields: WebhookFields, now: Date) async throws -> Webhook? {
        let ts = Timestamp.format(now)
        let found: Bool = try await transaction { [self] db in
            guard let row = try await db.raw("SELECT * FROM webhooks WHERE id = \(bind: id)").first() else { return false }
            var hook = try Self.decodeWebhook(row)
            let disabledSeq = try row.decode(column: "disabled_seq", as: Int64?.self)
            if let url = fields.url { hook.url = url }
            if let events = fields.events { hook.events = events }
            if let channelIds = fields.channelIds { hook.channelIds = channelIds }
            if let userIds = fields.userIds { hook.userIds = userIds }
            if let enabled = fields.enabled, enabled != hook.enabled {
                if enabled {
                    // Enabled again: a webhook the failures disabled resumes what it missed.
                    if hook.disabledBy == .failures { try await resumeDeliveries(db, hook: hook, disabledSeq: disabledSeq, now: now) }
                    hook.disabledAt = nil
                    hook.disabledReason = nil
                    hook.disabledBy = nil
                    hook.failingSince = nil
                } else {
                    // Disabled through the API: what was waiting for it is dropped (kept in its log as `dropped`).
                    try await db.raw("""
                        UPDATE webhook_deliveries SET state = 'dropped', updated_at = \(bind: ts)
                        WHERE webhook_id = \(bind: id) AND state IN ('pending', 'queued')
                        """).run()
                    hook.disabledAt = now
                    hook.disabledReason = "disabled through the API"
                    hook.disabledBy = .api
                }
                hook.enabled = enabled
            }
            try await db.raw("""
                UPDATE webhooks SET url = \(bind: hook.url), events = \(bind: Self.jsonStrings(hook.events)),
                  channel_ids = \(bind: Self.jsonStrings(hook.channelIds)), user_ids = \(bind: Self.jsonStrings(hook.userIds)),
                  enabled = \(bind: hook.enabled ? 1 : 0), updated_at = \(bind: ts),
                  failing_since = \(bind: hook.failingSince.map(Timestamp.format)), disabled_at = \(bind: hook.disabledAt.map(Timestamp.format)),
                  disabled_reason = \(bind: hook.disabledReason), disabled_by = \(bind: hook.disabledBy?.rawValue),
                  disabled_seq = \(bind: hook.enabled ? nil : disabledSeq)
                WHERE id = \(bind: id)
                """).run()
            return true
        }
        return found ? try await webhook(id: id) : nil
    }

    public func deleteWebhook(id: String) async throws -> Bool {
        try await transaction { db in
            let exists = try await db.raw("SELECT id FROM webhooks WHERE id = \(bind: id)").first() != nil
            if exists {
                // Always at once: an attempt still in flight finishes within its timeout and its
                // outcome, recorded against a row that is gone, changes nothing.
                try await db.raw("DELETE FROM webhook_deliveries WHERE webhook_id = \(bind: id)").run()
                try await db.raw("DELETE FROM webhooks WHERE id = \(bind: id)").run()
            }
            return exists
        }
    }

    // MARK: Videos and events

    public func searchVideos(_ query: ChannelQuery) async throws -> Page<Video> {
        let (position, order) = try Self.keyset(query.cursor, descending: query.descending)
        let limit = max(1, min(query.limit, 100))
        let rows = try await read { db in
            var sql = SQLQueryString("SELECT * FROM videos WHERE ")
            sql.appendInterpolation(position)
            if let userId = query.userId { sql.appendInterpolation(unsafeRaw: " AND user_id = "); sql.appendInterpolation(bind: userId) }
            if let channelId = query.channelId { sql.appendInterpolation(unsafeRaw: " AND channel_id = "); sql.appendInterpolation(bind: channelId) }
            if let q = query.nameContains, !q.isEmpty {
                sql.appendInterpolation(unsafeRaw: " AND LOWER(name) LIKE ")
                sql.appendInterpolation(bind: "%" + Self.likeEscape(q.lowercased()) + "%")
                sql.appendInterpolation(unsafeRaw: " ESCAPE '\\'")
            }
            if let from = query.createdFrom { sql.appendInterpolation(unsafeRaw: " AND created_at >= "); sql.appendInterpolation(bind: Timestamp.format(from)) }
            if let to = query.createdTo { sql.appendInterpolation(unsafeRaw: " AND created_at <= "); sql.appendInterpolation(bind: Timestamp.format(to)) }
            sql.appendInterpolation(unsafeRaw: order + " LIMIT \(limit + 1)")
            return try await db.raw(sql).all()
        }
        let videos = try rows.map(Self.decodeVideo)
        let next = videos.count > limit ? try rows[limit - 1].decode(column: "seq", as: Int64.self) : nil
        return Page(items: Array(videos.prefix(limit)), nextCursor: next.map(Cursor.encode))
    }
}
