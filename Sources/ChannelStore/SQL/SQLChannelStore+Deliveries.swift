import LiveGateModel
import Foundation
import SQLKit

/// Webhook deliveries: the dispatcher's queue (the outbox is the queue — nothing waits in
/// memory), the delivery log, redelivery, and each webhook's health (failing → disabled).
extension SQLChannelStore {
    /// Delivery columns, with the event's id, type and body (a ping's are on its delivery row).
    static let deliveryColumns = """
        d.id AS d_id, d.webhook_id, d.event_seq, d.attempt, d.state, d.next_attempt_at, d.status_code, d.latency_ms,
        d.response_excerpt, d.created_at AS d_created_at, d.updated_at AS d_updated_at, d.retry_window_start,
        COALESCE(d.event_id, e.id) AS e_id, COALESCE(d.event_type, e.type) AS e_type, COALESCE(d.payload, e.payload) AS e_payload
        """

    /// Enabled webhooks with at least one delivery due now (each is its own lane).
    public func webhooksWithDueDeliveries(now: Date) async throws -> [String] {
        try await read { db in
            try await db.raw("""
                SELECT DISTINCT d.webhook_id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id AND w.enabled = 1
                WHERE d.state = 'pending' AND d.next_attempt_at <= \(bind: Timestamp.format(now))
                """).all().map { try $0.decode(column: "webhook_id", as: String.self) }
        }
    }

    /// Deliveries due now, oldest first, at most one per (webhook, channel): the oldest
    /// undelivered event of each, so every channel's events reach each receiver in order. A
    /// disabled webhook's deliveries wait (the failures disabled it: they resume when enabled).
    public func dueDeliveries(now: Date, limit: Int, webhookId: String?) async throws -> [(delivery: DeliveryRecord, webhook: Webhook, payload: String)] {
        let ts = Timestamp.format(now)
        let onlyHook: SQLQueryString = webhookId.map { "AND d.webhook_id = \(bind: $0)" } ?? ""
        let rows = try await read { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.deliveryColumns)
                FROM webhook_deliveries d LEFT JOIN events e ON e.seq = d.event_seq
                WHERE d.state = 'pending' AND d.next_attempt_at <= \(bind: ts) \(onlyHook)
                  AND EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.webhook_id AND w.enabled = 1)
                  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.webhook_id = d.webhook_id AND p.channel_key = d.channel_key
                                  AND p.state IN ('pending', 'sending', 'queued') AND p.event_seq < d.event_seq)
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
        let createdAt = Timestamp.parse(try row.decode(column: "d_created_at", as: String.self))
        return DeliveryRecord(
            id: try row.decode(column: "d_id", as: String.self), webhookId: try row.decode(column: "webhook_id", as: String.self),
            eventSeq: try row.decode(column: "event_seq", as: Int64.self), eventId: try row.decode(column: "e_id", as: String.self),
            eventType: try row.decode(column: "e_type", as: String.self), attempt: try row.decode(column: "attempt", as: Int.self),
            state: DeliveryRecord.State(rawValue: try row.decode(column: "state", as: String.self)) ?? .pending,
            nextAttemptAt: Timestamp.parse(try row.decode(column: "next_attempt_at", as: String.self)),
            statusCode: try row.decode(column: "status_code", as: Int?.self), latencyMs: try row.decode(column: "latency_ms", as: Int?.self),
            responseExcerpt: try row.decode(column: "response_excerpt", as: String?.self), createdAt: createdAt,
            updatedAt: Timestamp.parse(try row.decode(column: "d_updated_at", as: String.self)),
            retryWindowStart: try row.decode(column: "retry_window_start", as: String?.self).map(Timestamp.parse))
    }

    /// Claims a due delivery for `node` until `claimUntil`: one conditional statement, so of two
    /// nodes claiming it at once one gets it. False if it is no longer pending (taken or deleted).
    public func claimDelivery(deliveryId: String, node: String, claimUntil: Date, now: Date) async throws -> Bool {
        try await write { db in
            try await db.raw("""
                UPDATE webhook_deliveries SET state = 'sending', claimed_by = \(bind: node), claim_expires_at = \(bind: Timestamp.format(claimUntil)),
                  updated_at = \(bind: Timestamp.format(now))
                WHERE id = \(bind: deliveryId) AND state = 'pending' RETURNING id
                """).first() != nil
        }
    }

    /// At start: the deliveries this node left in flight (it stopped mid-attempt) are pending
    /// again (at-least-once); other nodes' claims are theirs until they expire.
    public func resetInFlightDeliveries(node: String) async throws {
        try await write { db in
            try await db.raw("""
                UPDATE webhook_deliveries SET state = 'pending', claimed_by = NULL, claim_expires_at = NULL
                WHERE state = 'sending' AND (claimed_by = \(bind: node) OR claimed_by IS NULL OR claimed_by = '')
                """).run()
            // A lane with queued deliveries and no head (left by a race before the lane's head
            // check was locked): its first queued one becomes the head.
            try await db.raw("""
                UPDATE webhook_deliveries SET state = 'pending' WHERE state = 'queued'
                  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries h WHERE h.webhook_id = webhook_deliveries.webhook_id
                                  AND h.channel_key = webhook_deliveries.channel_key AND h.state IN ('pending', 'sending'))
                  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries q WHERE q.webhook_id = webhook_deliveries.webhook_id
                                  AND q.channel_key = webhook_deliveries.channel_key AND q.state = 'queued' AND q.event_seq < webhook_deliveries.event_seq)
                """).run()
        }
    }

    /// Claims whose node did not record an outcome before they expired (it died mid-attempt)
    /// are pending again; returns how many.
    public func releaseExpiredClaims(now: Date) async throws -> Int {
        let ts = Timestamp.format(now)
        let expired = try await read { db in
            try await db.raw("SELECT id FROM webhook_deliveries WHERE state = 'sending' AND claim_expires_at < \(bind: ts) LIMIT 1").first() != nil
        }
        guard expired else { return 0 }
        return try await write { db in
            try await db.raw("""
                UPDATE webhook_deliveries SET state = 'pending', claimed_by = NULL, claim_expires_at = NULL, updated_at = \(bind: ts)
                WHERE state = 'sending' AND claim_expires_at < \(bind: ts) RETURNING id
                """).all().count
        }
    }

    /// Records one attempt and keeps the webhook's health: a delivered attempt ends a failing
    /// streak; a failed one starts it, and once every attempt has failed for `disableAfter` the
    /// webhook is disabled — its note set, its waiting deliveries kept for when it is enabled
    /// again, and `webhook.disabled` queued for the other webhooks, all in one transaction.
    /// Returns the webhook when this attempt disabled it.
    public func recordAttempt(_ a: DeliveryAttempt, now: Date) async throws -> Webhook? {
        let ts = Timestamp.format(now)
        let claim: SQLQueryString = a.claimedBy.map { " AND claimed_by = \(bind: $0)" } ?? ""
        return try await transaction { [self] db in
            // Only the claim's holder records: a claim that expired and was taken again (this node
            // stalled past it) belongs to the new holder, whose outcome counts.
            guard let row = try await db.raw("""
                UPDATE webhook_deliveries SET attempt = \(bind: a.attempt), state = \(bind: a.state.rawValue), status_code = \(bind: a.statusCode),
                  latency_ms = \(bind: a.latencyMs), response_excerpt = \(bind: a.excerpt), next_attempt_at = \(bind: Timestamp.format(a.nextAttemptAt)),
                  updated_at = \(bind: ts), claimed_by = NULL, claim_expires_at = NULL
                WHERE id = \(bind: a.deliveryId)\(claim) RETURNING channel_key
                """).first() else { return nil }
            // A test ping (`#ping`) is one attempt that says nothing of the receiver's health over
            // time: it neither starts nor clears `failing_since`, and never disables the webhook.
            if try row.decode(column: "channel_key", as: String.self) == "#ping" { return nil }
            if a.state != .pending { try await promoteNext(db, after: a.deliveryId, now: now) }
            if a.delivered {
                try await db.raw("UPDATE webhooks SET failing_since = NULL WHERE id = \(bind: a.webhookId) AND failing_since IS NOT NULL").run()
                return nil
            }
            try await db.raw("UPDATE webhooks SET failing_since = \(bind: ts) WHERE id = \(bind: a.webhookId) AND failing_since IS NULL").run()
            guard let disableAfter = a.disableAfter,
                  var hook = try await db.raw("SELECT * FROM webhooks WHERE id = \(bind: a.webhookId)").first().map(Self.decodeWebhook),
                  hook.enabled, let since = hook.failingSince, now.timeIntervalSince(since) >= disableAfter
            else { return nil }
            let lastError = a.excerpt.map { "\($0)" } ?? a.statusCode.map { "HTTP \($0)" } ?? "no answer"
            let reason = "every delivery failed for \(Self.describe(duration: disableAfter)) (failing since \(Timestamp.format(since))); last error: \(lastError.prefix(200))"
            // Conditional, so that of two attempts failing at once exactly one disables it and
            // tells the others (PostgreSQL re-checks `enabled` once the first one's row lock is released).
            guard try await db.raw("""
                UPDATE webhooks SET enabled = 0, disabled_at = \(bind: ts), disabled_reason = \(bind: reason), disabled_by = 'failures',
                  updated_at = \(bind: ts)
                WHERE id = \(bind: hook.id) AND enabled = 1 RETURNING id
                """).first() != nil else { return nil }
            hook.enabled = false
            hook.disabledAt = Timestamp.parse(ts)
            hook.disabledReason = reason
            hook.disabledBy = .failures
            hook.updatedAt = hook.disabledAt ?? now
            let event = try await insertEvent(db, .make(type: EventType.webhookDisabled.rawValue, channelId: nil, userId: nil, at: now, data: .object([
                "webhook": hook.eventJSON, "reason": .string(reason), "lastError": .string(String(lastError.prefix(512))),
            ])), now: now)
            // What comes after this is queued for it when it is enabled again.
            try await db.raw("UPDATE webhooks SET disabled_seq = \(bind: event.seq) WHERE id = \(bind: hook.id)").run()
            return hook
        }
    }

    /// A lane's head is done (delivered or given up): the next queued delivery of the same
    /// (webhook, channel) becomes the head, due at once.
    func promoteNext(_ db: any SQLDatabase, after deliveryId: String, now: Date) async throws {
        guard let row = try await db.raw("SELECT webhook_id, channel_key FROM webhook_deliveries WHERE id = \(bind: deliveryId)").first() else { return }
        let webhookId = try row.decode(column: "webhook_id", as: String.self), lane = try row.decode(column: "channel_key", as: String.self)
        guard let next = try await db.raw("""
            SELECT id FROM webhook_deliveries WHERE webhook_id = \(bind: webhookId) AND channel_key = \(bind: lane) AND state = 'queued'
            ORDER BY event_seq LIMIT 1
            """).first() else { return }
        let ts = Timestamp.format(now)
        try await db.raw("""
            UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = \(bind: ts), updated_at = \(bind: ts)
            WHERE id = \(bind: try next.decode(column: "id", as: String.self))
            """).run()
    }

    /// "5 days", "3 hours", "90 s".
    static func describe(duration: TimeInterval) -> String {
        let seconds = Int(duration.rounded())
        if seconds >= 86_400 && seconds % 86_400 == 0 { return seconds == 86_400 ? "1 day" : "\(seconds / 86_400) days" }
        if seconds >= 3600 && seconds % 3600 == 0 { return seconds == 3600 ? "1 hour" : "\(seconds / 3600) hours" }
        return "\(seconds) s"
    }

    /// Inside `updateWebhook`'s transaction, a webhook the failures disabled being enabled again:
    /// what it did not get resumes, oldest first, with a fresh retry window — its waiting and
    /// given-up deliveries of the failing streak, and a delivery of every matching event
    /// logged while it was disabled.
    func resumeDeliveries(_ db: any SQLDatabase, hook: Webhook, disabledSeq: Int64?, now: Date) async throws {
        let ts = Timestamp.format(now)
        let since = Timestamp.format(hook.failingSince ?? hook.disabledAt ?? now)
        try await db.raw("""
            UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = \(bind: ts), retry_window_start = \(bind: ts), updated_at = \(bind: ts)
            WHERE webhook_id = \(bind: hook.id) AND (state IN ('pending', 'queued') OR (state = 'failed' AND updated_at >= \(bind: since)))
            """).run()
        guard let disabledSeq else { return }
        var sql = SQLQueryString("""
            INSERT INTO webhook_deliveries (id, webhook_id, event_seq, attempt, state, next_attempt_at, created_at, updated_at, channel_key)
            SELECT CAST(\(bind: "dlv_r" + String(UUID().uuidString.lowercased().prefix(8)) + "_") AS TEXT) || CAST(e.seq AS TEXT),
              CAST(\(bind: hook.id) AS TEXT), e.seq, 0, 'pending', CAST(\(bind: ts) AS TEXT), CAST(\(bind: ts) AS TEXT), CAST(\(bind: ts) AS TEXT),
              COALESCE(e.channel_id, '')
            FROM events e WHERE e.seq > \(bind: disabledSeq)
              AND NOT EXISTS (SELECT 1 FROM webhook_deliveries x WHERE x.webhook_id = \(bind: hook.id) AND x.event_seq = e.seq)
            """)
        func appendIn(_ column: String, _ values: [String]) {
            guard !values.isEmpty else { return }
            sql.appendInterpolation(unsafeRaw: " AND e.\(column) IN (")
            for (i, v) in values.enumerated() {
                if i > 0 { sql.appendInterpolation(unsafeRaw: ", ") }
                sql.appendInterpolation(bind: v)
            }
            sql.appendInterpolation(unsafeRaw: ")")
        }
        appendIn("type", hook.events)
        appendIn("channel_id", hook.channelIds)
        appendIn("user_id", hook.userIds)
        try await db.raw(sql).run()
    }

    public func deliveries(webhookId: String, state: DeliveryRecord.State? = nil, limit: Int, cursor: String?, descending: Bool) async throws -> Page<DeliveryRecord> {
        let offset = try Cursor.decode(cursor)
        let limit = max(1, min(limit, 100))
        // In flight (`sending`) and waiting its turn (`queued`) are `pending` to the log's reader.
        let stateFilter: SQLQueryString = state.map { $0 == .pending ? "AND d.state IN ('pending', 'sending', 'queued')" : "AND d.state = \(bind: $0.rawValue)" } ?? ""
        let rows = try await read { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.deliveryColumns)
                FROM webhook_deliveries d LEFT JOIN events e ON e.seq = d.event_seq
                WHERE d.webhook_id = \(bind: webhookId) \(stateFilter) ORDER BY \(unsafeRaw: descending ? "d.seq DESC" : "d.seq")
                LIMIT \(unsafeRaw: String(limit + 1)) OFFSET \(unsafeRaw: String(offset))
                """).all()
        }
        let items = try rows.map(Self.decodeDelivery)
        return Page(items: Array(items.prefix(limit)), nextCursor: items.count > limit ? Cursor.encode(offset + Int64(limit)) : nil)
    }

    /// Queues a delivery again now (manual redelivery, any state but in flight): the same event,
    /// so the same `webhook-id`. False when unknown for this webhook.
    public func redeliver(deliveryId: String, webhookId: String, now: Date) async throws -> Bool {
        try await transaction { db in
            let exists = try await db.raw("SELECT id FROM webhook_deliveries WHERE id = \(bind: deliveryId) AND webhook_id = \(bind: webhookId)").first() != nil
            if exists {
                try await db.raw("""
                    UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = \(bind: Timestamp.format(now)), updated_at = \(bind: Timestamp.format(now))
                    WHERE id = \(bind: deliveryId) AND state <> 'sending'
                    """).run()
            }
            return exists
        }
    }

    public func webhookBacklog() async throws -> (pending: Int, oldestCreatedAt: Date?) {
        try await read { db in
            let row = try await db.raw("SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM webhook_deliveries WHERE state = 'pending'").first()
            return (try row?.decode(column: "n", as: Int.self) ?? 0, try row?.decode(column: "oldest", as: String?.self).map(Timestamp.parse))
        }
    }
}
