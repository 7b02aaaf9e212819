import Foundation
import SQLKit

/// Sessions, the event outbox and webhook deliveries. Every state change and the events that
/// describe it commit in one transaction; each event fans out to one delivery row per matching
/// webhook in that same transaction, so a crash can lose neither.
extension SQLChannelStore {
    // MARK: Events

    /// Inside a transaction: inserts the event, fills in its body with the assigned `seq`, and
    /// queues a delivery for every enabled webhook whose filters match.
    func insertEvent(_ db: any SQLDatabase, _ event: NewEvent, now: Date) async throws -> StoredEvent {
        let ts = Timestamp.format(now)
        guard let row = try await db.raw("""
            INSERT INTO events (id, type, channel_id, user_id, payload, created_at)
            VALUES (\(bind: event.id), \(bind: event.type), \(bind: event.channelId), \(bind: event.userId), '{}', \(bind: ts)) RETURNING seq
            """).first() else { throw StoreError.conflict("event insert returned no sequence number") }
        let seq = try row.decode(column: "seq", as: Int64.self)
        let body = event.body(seq)
        try await db.raw("UPDATE events SET payload = \(bind: body.jsonText) WHERE seq = \(bind: seq)").run()
        let hooks = try await db.raw("SELECT * FROM webhooks WHERE enabled = 1").all().map(Self.decodeWebhook)
        for hook in hooks where Self.matches(hook, type: event.type, channelId: event.channelId, userId: event.userId) {
            try await db.raw("""
                INSERT INTO webhook_deliveries (id, webhook_id, event_seq, attempt, state, next_attempt_at, created_at, updated_at, channel_key)
                VALUES (\(bind: "dlv_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)), \(bind: hook.id),
                  \(bind: seq), 0, 'pending', \(bind: ts), \(bind: ts), \(bind: ts), \(bind: event.channelId ?? ""))
                """).run()
        }
        return StoredEvent(seq: seq, id: event.id, type: event.type, channelId: event.channelId, userId: event.userId, payload: body, createdAt: now)
    }

    static func matches(_ hook: Webhook, type: String, channelId: String?, userId: String?) -> Bool {
        (hook.events.isEmpty || hook.events.contains(type))
            && (hook.channelIds.isEmpty || channelId.map(hook.channelIds.contains) == true)
            && (hook.userIds.isEmpty || userId.map(hook.userIds.contains) == true)
    }

    public func appendEvent(_ event: NewEvent, now: Date) async throws -> StoredEvent {
        try await transaction { [self] db in try await insertEvent(db, event, now: now) }
    }

    /// `webhook.ping` for one webhook only (the test endpoint), with its delivery row.
    public func appendPing(_ event: NewEvent, webhookId: String, now: Date) async throws -> (StoredEvent, String) {
        let ts = Timestamp.format(now)
        return try await transaction { db in
            guard let row = try await db.raw("""
                INSERT INTO events (id, type, channel_id, user_id, payload, created_at)
                VALUES (\(bind: event.id), \(bind: event.type), NULL, NULL, '{}', \(bind: ts)) RETURNING seq
                """).first() else { throw StoreError.conflict("event insert returned no sequence number") }
            let seq = try row.decode(column: "seq", as: Int64.self)
            let body = event.body(seq)
            try await db.raw("UPDATE events SET payload = \(bind: body.jsonText) WHERE seq = \(bind: seq)").run()
            let deliveryID = "dlv_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
            // Marked in flight ('sending') so the dispatcher leaves it to the test endpoint.
            try await db.raw("""
                INSERT INTO webhook_deliveries (id, webhook_id, event_seq, attempt, state, next_attempt_at, created_at, updated_at, channel_key)
                VALUES (\(bind: String(deliveryID)), \(bind: webhookId), \(bind: seq), 0, 'sending', \(bind: ts), \(bind: ts), \(bind: ts), '')
                """).run()
            return (StoredEvent(seq: seq, id: event.id, type: event.type, channelId: nil, userId: nil, payload: body, createdAt: now), String(deliveryID))
        }
    }

    // MARK: Sessions

    /// Marks the channel live, records the session and queues `channel.live`, atomically.
    public func startSession(_ session: SessionRecord, event: NewEvent, now: Date) async throws -> StoredEvent {
        // Urgent: the publisher is waiting for Publish.Start until this commits.
        try await transaction(urgent: true) { [self] db in
            try await db.raw("""
                INSERT INTO sessions (id, channel_id, node_id, started_at, remote_addr, encoder)
                VALUES (\(bind: session.id), \(bind: session.channelId), \(bind: session.nodeId), \(bind: Timestamp.format(session.startedAt)),
                  \(bind: session.remoteAddr), \(bind: session.encoder))
                """).run()
            try await db.raw("""
                UPDATE channels SET status = 'live', session_id = \(bind: session.id), last_live_at = \(bind: Timestamp.format(now))
                WHERE id = \(bind: session.channelId)
                """).run()
            return try await insertEvent(db, event, now: now)
        }
    }

    /// Updates a running session's counters (periodically and at the end).
    public func updateSessionStats(id: String, bytesIn: Int64, videoFrames: Int64, audioFrames: Int64, videoCodec: String?, audioCodec: String?,
                                   connections: [SessionConnection]) async throws {
        let connectionsJSON = JSONValue.array(connections.map(\.json)).jsonText
        try await transaction { db in
            try await db.raw("""
                UPDATE sessions SET bytes_in = \(bind: bytesIn), video_frames = \(bind: videoFrames), audio_frames = \(bind: audioFrames),
                  connections = \(bind: connectionsJSON),
                  video_codec = COALESCE(\(bind: videoCodec), video_codec), audio_codec = COALESCE(\(bind: audioCodec), audio_codec)
                WHERE id = \(bind: id)
                """).run()
        }
    }

    /// Ends a session with its reason, marks the channel offline (if this session still owns it)
    /// and queues `channel.offline`, atomically. Returns nil if the session had already ended.
    public func endSession(id: String, reason: String, now: Date, event: NewEvent) async throws -> StoredEvent? {
        try await transaction { [self] db in
            let open = try await db.raw("SELECT id FROM sessions WHERE id = \(bind: id) AND ended_at IS NULL").first() != nil
            guard open else { return nil }
            try await db.raw("UPDATE sessions SET ended_at = \(bind: Timestamp.format(now)), end_reason = \(bind: reason) WHERE id = \(bind: id)").run()
            try await db.raw("UPDATE channels SET status = 'offline', session_id = NULL WHERE session_id = \(bind: id)").run()
            return try await insertEvent(db, event, now: now)
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

    /// A channel's publish history, newest first.
    public func sessions(channelId: String, limit: Int, cursor: String?) async throws -> Page<SessionRecord> {
        let offset = try Cursor.decode(cursor)
        let limit = max(1, min(limit, 100))
        let rows = try await read { db in
            try await db.raw("""
                SELECT * FROM sessions WHERE channel_id = \(bind: channelId) ORDER BY started_at DESC, id DESC
                LIMIT \(unsafeRaw: String(limit + 1)) OFFSET \(unsafeRaw: String(offset))
                """).all()
        }
        let sessions = try rows.map(Self.decodeSession)
        return Page(items: Array(sessions.prefix(limit)), nextCursor: sessions.count > limit ? Cursor.encode(offset + Int64(limit)) : nil)
    }

    public func liveChannelCount(userId: String, excluding channelId: String) async throws -> Int {
        try await read { db in
            try await db.raw("SELECT COUNT(*) AS n FROM channels WHERE user_id = \(bind: userId) AND status = 'live' AND id <> \(bind: channelId)")
                .first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    static func decodeSession(_ row: any SQLRow) throws -> SessionRecord {
        SessionRecord(id: try row.decode(column: "id", as: String.self), channelId: try row.decode(column: "channel_id", as: String.self),
                      nodeId: try row.decode(column: "node_id", as: String.self),
                      startedAt: Timestamp.parse(try row.decode(column: "started_at", as: String.self)),
                      endedAt: try row.decode(column: "ended_at", as: String?.self).map(Timestamp.parse),
                      remoteAddr: try row.decode(column: "remote_addr", as: String.self), encoder: try row.decode(column: "encoder", as: String.self),
                      videoCodec: try row.decode(column: "video_codec", as: String?.self), audioCodec: try row.decode(column: "audio_codec", as: String?.self),
                      bytesIn: try row.decode(column: "bytes_in", as: Int64.self), videoFrames: try row.decode(column: "video_frames", as: Int64.self),
                      audioFrames: try row.decode(column: "audio_frames", as: Int64.self), endReason: try row.decode(column: "end_reason", as: String?.self),
                      connections: Self.decodeConnections(try row.decode(column: "connections", as: String?.self)))
    }

    static func decodeConnections(_ text: String?) -> [SessionConnection] {
        guard let text, case .array(let items)? = JSONValue.parse(text) else { return [] }
        return items.compactMap(SessionConnection.init(json:))
    }

    // MARK: Deliveries

    /// Deliveries due now, at most one per (webhook, channel): the oldest undelivered event of
    /// each, so every channel's events reach each receiver in order.
    public func webhooksWithDueDeliveries(now: Date) async throws -> [String] {
        try await read { db in
            try await db.raw("""
                SELECT DISTINCT webhook_id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= \(bind: Timestamp.format(now))
                """).all().map { try $0.decode(column: "webhook_id", as: String.self) }
        }
    }

    public func dueDeliveries(now: Date, limit: Int, webhookId: String?) async throws -> [(delivery: DeliveryRecord, webhook: Webhook, payload: String)] {
        let ts = Timestamp.format(now)
        let onlyHook: SQLQueryString = webhookId.map { "AND d.webhook_id = \(bind: $0)" } ?? ""
        let rows = try await read { db in
            try await db.raw("""
                SELECT d.id AS d_id, d.webhook_id, d.event_seq, d.attempt, d.state, d.next_attempt_at, d.status_code, d.latency_ms,
                  d.response_excerpt, d.created_at AS d_created_at, d.updated_at AS d_updated_at, e.id AS e_id, e.type AS e_type, e.payload AS e_payload
                FROM webhook_deliveries d JOIN events e ON e.seq = d.event_seq
                WHERE d.state = 'pending' AND d.next_attempt_at <= \(bind: ts) \(onlyHook)
                  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.webhook_id = d.webhook_id AND p.channel_key = d.channel_key
                                  AND p.state IN ('pending', 'sending') AND p.event_seq < d.event_seq)
                ORDER BY d.event_seq LIMIT \(unsafeRaw: String(max(1, limit)))
                """).all()
        }
        var hooks: [String: Webhook] = [:]
        var out: [(DeliveryRecord, Webhook, String)] = []
        for row in rows {
            let delivery = try Self.decodeDelivery(row)
            if hooks[delivery.webhookId] == nil { hooks[delivery.webhookId] = try await webhook(id: delivery.webhookId) }
            guard let hook = hooks[delivery.webhookId] else { continue }
            out.append((delivery, hook, try row.decode(column: "e_payload", as: String.self)))
        }
        return out
    }

    static func decodeDelivery(_ row: any SQLRow) throws -> DeliveryRecord {
        DeliveryRecord(id: try row.decode(column: "d_id", as: String.self), webhookId: try row.decode(column: "webhook_id", as: String.self),
                       eventSeq: try row.decode(column: "event_seq", as: Int64.self), eventId: try row.decode(column: "e_id", as: String.self),
                       eventType: try row.decode(column: "e_type", as: String.self), attempt: try row.decode(column: "attempt", as: Int.self),
                       state: DeliveryRecord.State(rawValue: try row.decode(column: "state", as: String.self)) ?? .pending,
                       nextAttemptAt: Timestamp.parse(try row.decode(column: "next_attempt_at", as: String.self)),
                       statusCode: try row.decode(column: "status_code", as: Int?.self), latencyMs: try row.decode(column: "latency_ms", as: Int?.self),
                       responseExcerpt: try row.decode(column: "response_excerpt", as: String?.self),
                       createdAt: Timestamp.parse(try row.decode(column: "d_created_at", as: String.self)),
                       updatedAt: Timestamp.parse(try row.decode(column: "d_updated_at", as: String.self)))
    }

    /// Marks a delivery in flight, so deleting its webhook meanwhile answers 409 instead of
    /// racing the POST. Returns false if it is no longer pending (taken or deleted).
    public func markSending(deliveryId: String, now: Date) async throws -> Bool {
        try await transaction { db in
            let pending = try await db.raw("SELECT id FROM webhook_deliveries WHERE id = \(bind: deliveryId) AND state = 'pending'").first() != nil
            if pending {
                try await db.raw("UPDATE webhook_deliveries SET state = 'sending', updated_at = \(bind: Timestamp.format(now)) WHERE id = \(bind: deliveryId)").run()
            }
            return pending
        }
    }

    /// After a crash, deliveries left in flight are pending again (at-least-once).
    public func resetInFlightDeliveries() async throws {
        try await transaction { db in try await db.raw("UPDATE webhook_deliveries SET state = 'pending' WHERE state = 'sending'").run() }
    }

    /// Records one attempt's outcome: delivered, retry at `nextAttemptAt`, or failed for good.
    public func recordAttempt(deliveryId: String, attempt: Int, state: DeliveryRecord.State, statusCode: Int?, latencyMs: Int,
                              excerpt: String?, nextAttemptAt: Date, now: Date) async throws {
        try await transaction { db in
            try await db.raw("""
                UPDATE webhook_deliveries SET attempt = \(bind: attempt), state = \(bind: state.rawValue), status_code = \(bind: statusCode),
                  latency_ms = \(bind: latencyMs), response_excerpt = \(bind: excerpt), next_attempt_at = \(bind: Timestamp.format(nextAttemptAt)),
                  updated_at = \(bind: Timestamp.format(now))
                WHERE id = \(bind: deliveryId)
                """).run()
        }
    }

    public func deliveries(webhookId: String, limit: Int, cursor: String?) async throws -> Page<DeliveryRecord> {
        let offset = try Cursor.decode(cursor)
        let limit = max(1, min(limit, 100))
        let rows = try await read { db in
            try await db.raw("""
                SELECT d.id AS d_id, d.webhook_id, d.event_seq, d.attempt, d.state, d.next_attempt_at, d.status_code, d.latency_ms,
                  d.response_excerpt, d.created_at AS d_created_at, d.updated_at AS d_updated_at, e.id AS e_id, e.type AS e_type
                FROM webhook_deliveries d JOIN events e ON e.seq = d.event_seq
                WHERE d.webhook_id = \(bind: webhookId) ORDER BY d.seq DESC
                LIMIT \(unsafeRaw: String(limit + 1)) OFFSET \(unsafeRaw: String(offset))
                """).all()
        }
        let items = try rows.map(Self.decodeDelivery)
        return Page(items: Array(items.prefix(limit)), nextCursor: items.count > limit ? Cursor.encode(offset + Int64(limit)) : nil)
    }

    /// Queues a delivery again now (manual redelivery). Nil when unknown for this webhook.
    public func redeliver(deliveryId: String, webhookId: String, now: Date) async throws -> Bool {
        try await transaction { db in
            let exists = try await db.raw("SELECT id FROM webhook_deliveries WHERE id = \(bind: deliveryId) AND webhook_id = \(bind: webhookId)").first() != nil
            if exists {
                try await db.raw("""
                    UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = \(bind: Timestamp.format(now)), updated_at = \(bind: Timestamp.format(now))
                    WHERE id = \(bind: deliveryId)
                    """).run()
            }
            return exists
        }
    }
}
