import LiveGateModel
import Foundation
import SQLKit

/// The event log and outbox. Every state change and the events that describe it commit in one
/// transaction; each event fans out to one delivery row per matching webhook in that same
/// transaction, so a crash can lose neither.
///
/// `seq` is gapless and in commit order on both stores: the writer takes the event-log lock
/// (SQLite: its one write lock, `BEGIN IMMEDIATE`; PostgreSQL: a transaction advisory lock,
/// held until COMMIT) and only then reads `MAX(seq) + 1`. The next writer gets the lock only
/// after this one committed or rolled back, so numbers are handed out in commit order and a
/// rolled-back number is handed out again — a reader of `?after=SEQ` can never see 7 before 6
/// has committed, and never waits for a 6 that will not come. (An identity column numbers at
/// INSERT: two transactions could commit 7 before 6, and a poller that had read 7 skipped 6
/// for ever.) The lock is taken last in each transaction, so it is held only for the event's
/// rows and the commit.
extension SQLChannelStore {
    /// `pg_advisory_xact_lock` key of the event log (7347001 guards migrations).
    static let eventLogLock = 7_347_002

    /// Inside a transaction: numbers the event, stores its body, and queues a delivery for every
    /// enabled webhook whose filters match.
    func insertEvent(_ db: any SQLDatabase, _ event: NewEvent, now: Date) async throws -> StoredEvent {
        if let call = appendEventCall(event, now: now) {
            // One round trip: migration 23's function does what the statements below do.
            guard let row = try await db.raw("SELECT \(call) AS seq").first() else {
                throw StoreError.conflict("the event log answered no sequence number")
            }
            return Self.stored(event, seq: try row.decode(column: "seq", as: Int64.self), now: now)
        }
        if backend == .postgres {
            try await db.raw("SELECT pg_advisory_xact_lock(\(unsafeRaw: String(Self.eventLogLock)))").run()
        }
        guard let next = try await db.raw("SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM events").first() else {
            throw StoreError.conflict("the event log answered no next sequence number")
        }
        let seq = try next.decode(column: "next", as: Int64.self)
        let body = event.body(seq)
        let ts = Timestamp.format(now)
        try await db.raw("""
            INSERT INTO events (seq, id, type, channel_id, user_id, payload, created_at)
            VALUES (\(bind: seq), \(bind: event.id), \(bind: event.type), \(bind: event.channelId), \(bind: event.userId), \(bind: body.jsonText), \(bind: ts))
            """).run()
        let hooks = try await db.raw("SELECT * FROM webhooks WHERE enabled = 1").all().map(Self.decodeWebhook)
        let lane = event.channelId ?? ""
        for hook in hooks where Self.matches(hook, type: event.type, channelId: event.channelId, userId: event.userId) {
            // Behind an undelivered event of the same (webhook, channel) it is `queued`: only a
            // lane's head is `pending`, so finding what is due costs what is due, not the backlog
            // a dead receiver piles up. The head's outcome promotes the next (`promoteNext`).
            // Locked: a head whose outcome another transaction is recording makes this wait for
            // its commit (then it is seen done), so a delivery is never queued behind a head that
            // has already promoted nothing — an orphan no outcome would ever promote.
            let busy = try await db.raw("""
                SELECT 1 AS one FROM webhook_deliveries WHERE webhook_id = \(bind: hook.id) AND channel_key = \(bind: lane)
                  AND state IN ('pending', 'sending', 'queued') LIMIT 1 \(unsafeRaw: lockRow)
                """).first() != nil
            try await db.raw("""
                INSERT INTO webhook_deliveries (id, webhook_id, event_seq, attempt, state, next_attempt_at, created_at, updated_at, channel_key)
                VALUES (\(bind: Self.deliveryID()), \(bind: hook.id), \(bind: seq), 0, \(bind: busy ? "queued" : "pending"), \(bind: ts), \(bind: ts),
                  \(bind: ts), \(bind: lane))
                """).run()
        }
        return StoredEvent(seq: seq, id: event.id, type: event.type, channelId: event.channelId, userId: event.userId, payload: body, createdAt: now)
    }

    /// PostgreSQL: the call of migration 23's function that appends `event` (its sequence
    /// number is the call's value); nil on SQLite, or for a body with no template.
    /// `at`: the time the rows get, as text (`now`, formatted, unless given as SQL).
    func appendEventCall(_ event: NewEvent, now: Date, at: SQLQueryString? = nil) -> SQLQueryString? {
        guard backend == .postgres, let parts = EventBodyTemplate.parts(of: event.body) else { return nil }
        let ts = at ?? "\(bind: Timestamp.format(now))"
        return """
            livegate_append_event(\(bind: Int64(Self.eventLogLock)), \(bind: event.id), \(bind: event.type), \(bind: event.channelId),
              \(bind: event.userId), \(bind: parts), \(ts), \(bind: event.channelId ?? ""))
            """
    }

    static func stored(_ event: NewEvent, seq: Int64, now: Date) -> StoredEvent {
        StoredEvent(seq: seq, id: event.id, type: event.type, channelId: event.channelId, userId: event.userId, payload: event.body(seq), createdAt: now)
    }

    static func deliveryID() -> String { "dlv_" + Identifiers.hex(20) }

    /// Which webhooks an event goes to. PostgreSQL's `livegate_append_event` (migration 23)
    /// applies the same three filters in SQL; the conformance test
    /// `testEachEventGoesToTheWebhooksItsFiltersMatchWithItsExactBody` holds both stores to one hand-written table.
    static func matches(_ hook: Webhook, type: String, channelId: String?, userId: String?) -> Bool {
        (hook.events.isEmpty || hook.events.contains(type))
            && (hook.channelIds.isEmpty || channelId.map(hook.channelIds.contains) == true)
            && (hook.userIds.isEmpty || userId.map(hook.userIds.contains) == true)
    }

    public func appendEvent(_ event: NewEvent, now: Date) async throws -> StoredEvent {
        try await transaction { [self] db in try await insertEvent(db, event, now: now) }
    }

    /// `webhook.ping` for one webhook only (the test endpoint). A ping is not part of the event
    /// log (it takes no `seq`): its delivery row carries its id, type and body. Marked in flight
    /// (`sending`) so the dispatcher leaves it to the test endpoint.
    public func appendPing(_ event: NewEvent, webhookId: String, now: Date) async throws -> (StoredEvent, String) {
        let ts = Timestamp.format(now)
        let body = event.body(0)
        let deliveryID = Self.deliveryID()
        try await transaction { db in
            try await db.raw("""
                INSERT INTO webhook_deliveries (id, webhook_id, event_seq, attempt, state, next_attempt_at, created_at, updated_at, channel_key,
                  event_id, event_type, payload, claimed_by, claim_expires_at)
                VALUES (\(bind: deliveryID), \(bind: webhookId), 0, 0, 'sending', \(bind: ts), \(bind: ts), \(bind: ts), '#ping',
                  \(bind: event.id), \(bind: event.type), \(bind: body.jsonText), '#ping', \(bind: Timestamp.format(now.addingTimeInterval(120))))
                """).run()
        }
        return (StoredEvent(seq: 0, id: event.id, type: event.type, channelId: nil, userId: nil, payload: body, createdAt: now), deliveryID)
    }

    public func lastEventSeq() async throws -> Int64 {
        try await read { db in try await db.raw("SELECT COALESCE(MAX(seq), 0) AS n FROM events").first()?.decode(column: "n", as: Int64.self) ?? 0 }
    }

    /// The event log, oldest first, filtered; `nextCursor` when more may follow.
    public func events(_ query: EventQuery) async throws -> Page<StoredEvent> {
        let limit = max(1, min(query.limit, 1000))
        let after = max(query.after, try Cursor.decode(query.cursor))
        let rows = try await read { db in
            var sql = SQLQueryString("SELECT * FROM events WHERE seq > \(bind: after)")
            if !query.types.isEmpty {
                sql.appendInterpolation(unsafeRaw: " AND type IN (")
                for (i, type) in query.types.enumerated() {
                    if i > 0 { sql.appendInterpolation(unsafeRaw: ", ") }
                    sql.appendInterpolation(bind: type)
                }
                sql.appendInterpolation(unsafeRaw: ")")
            }
            if let channelId = query.channelId { sql.appendInterpolation(unsafeRaw: " AND channel_id = "); sql.appendInterpolation(bind: channelId) }
            if let userId = query.userId { sql.appendInterpolation(unsafeRaw: " AND user_id = "); sql.appendInterpolation(bind: userId) }
            if let from = query.from { sql.appendInterpolation(unsafeRaw: " AND created_at >= "); sql.appendInterpolation(bind: Timestamp.format(from)) }
            if let to = query.to { sql.appendInterpolation(unsafeRaw: " AND created_at < "); sql.appendInterpolation(bind: Timestamp.format(to)) }
            sql.appendInterpolation(unsafeRaw: " ORDER BY seq LIMIT \(limit + 1)")
            return try await db.raw(sql).all()
        }
        let events = try rows.map { row in
            StoredEvent(seq: try row.decode(column: "seq", as: Int64.self), id: try row.decode(column: "id", as: String.self),
                        type: try row.decode(column: "type", as: String.self), channelId: try row.decode(column: "channel_id", as: String?.self),
                        userId: try row.decode(column: "user_id", as: String?.self),
                        payload: JSONValue.parse(try row.decode(column: "payload", as: String.self)) ?? .null,
                        createdAt: Timestamp.parse(try row.decode(column: "created_at", as: String.self)))
        }
        let page = Array(events.prefix(limit))
        return Page(items: page, nextCursor: events.count > limit ? page.last.map { Cursor.encode($0.seq) } : nil)
    }
}
