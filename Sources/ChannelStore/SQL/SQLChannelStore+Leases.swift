import LiveGateModel
import Foundation
import SQLKit

/// Channel leases (issue #14 items 2 and 3): who carries each live or reconnecting session,
/// decided by the database so that docs/contract.md §2's decision table holds across nodes. Every decision
/// that reads a lease and changes it runs in one transaction holding the lease row
/// (`FOR UPDATE` on PostgreSQL; SQLite has one writer), and every session end is one
/// conditional `UPDATE … WHERE ended_at IS NULL`, so of two nodes ending the same session (a
/// survivor sweeping a lost node's lease, the lost node restarting) exactly one records it and
/// queues its `channel.offline`.
extension SQLChannelStore {
    /// `pg_notify` channel that carries `ClusterMessage`s between nodes.
    public static let notifyChannel = "livegate"

    var lockRow: String { backend == .postgres ? "FOR UPDATE" : "" }
    var lockRowSkipLocked: String { backend == .postgres ? "FOR UPDATE SKIP LOCKED" : "" }

    /// PostgreSQL, a free lease (the common case): the whole new session in one statement,
    /// committed on its own — one round trip instead of seven (`BEGIN`, the clock, the lease,
    /// the session, the peak, the channel, the event, `COMMIT`; BENCHMARKS.md, "PostgreSQL
    /// accept"). Its parts are data-modifying CTEs: the time (the database's clock, as the
    /// transaction below reads it, or the caller's), the lease, the session, the channel, the
    /// hour's peak, and migration 23's function appending the event — each after the lease, and
    /// only if it was written. Nil when the lease was not free (nothing was written; the
    /// caller decides in a transaction) or the event has no template.
    func startSessionInOneStatement(_ session: SessionRecord, event: NewEvent, now callerNow: Date) async throws -> StoredEvent? {
        let timing = leaseTiming
        // Milliseconds since 1970, formatted as `Timestamp.format` does (RFC 3339, UTC, ms).
        let clock: SQLQueryString = timing.databaseClock ? "round(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint"
            : "\(bind: Self.epochMs(callerNow))::bigint"
        let format = { (ms: String) in "to_char(TIMESTAMP 'epoch' + (\(ms)) * INTERVAL '1 millisecond', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')" }
        guard let append = appendEventCall(event, now: callerNow, at: SQLQueryString("(SELECT ts FROM t)")) else { return nil }
        let ttl = Int64((timing.timeToLive * 1000).rounded())
        let statement: SQLQueryString = """
            WITH t AS (
              SELECT ms, \(unsafeRaw: format("ms")) AS ts, \(unsafeRaw: format("ms + \(ttl)")) AS expires FROM (SELECT \(clock) AS ms) AS clock
            ), lease AS (
              INSERT INTO channel_leases (channel_id, session_id, node_id, state, expires_at, updated_at)
              SELECT \(bind: session.channelId), \(bind: session.id), \(bind: session.nodeId), 'live', t.expires, t.ts FROM t
              ON CONFLICT (channel_id) DO NOTHING RETURNING channel_id
            ), started AS (
              INSERT INTO sessions (id, channel_id, node_id, started_at, remote_addr, encoder, user_id, started_ms)
              SELECT \(bind: session.id), lease.channel_id, \(bind: session.nodeId), \(bind: Timestamp.format(session.startedAt)),
                \(bind: session.remoteAddr), \(bind: session.encoder), (SELECT user_id FROM channels WHERE id = lease.channel_id),
                \(bind: Self.epochMs(session.startedAt))
              FROM lease RETURNING id
            ), live AS (
              UPDATE channels SET status = 'live', session_id = \(bind: session.id), last_live_at = (SELECT ts FROM t)
              WHERE id IN (SELECT channel_id FROM lease) RETURNING id
            ), peak AS (
              \(Self.livePeakStatement(channelId: session.channelId, at: session.startedAt, startedIn: "started"))
            )
            SELECT (SELECT ms FROM t) AS ms, CASE WHEN EXISTS (SELECT 1 FROM started) THEN \(append) END AS seq
            """
        guard let row = try await write(urgent: true, { db in try await db.raw(statement).first() }) else {
            throw StoreError.conflict("the session's statement answered nothing")
        }
        guard let seq = try row.decode(column: "seq", as: Int64?.self) else { return nil }
        return Self.stored(event, seq: seq, now: Self.date(ms: try row.decode(column: "ms", as: Int64.self)))
    }

    /// A publish asks for the channel: a new session (the lease is free, or held by a lost
    /// node — whose session ends with `node_lost` here, in the same transaction), another node's
    /// session continued (it is reconnecting inside its window, or `takeOver` — the `replace`
    /// policy), or busy.
    public func acquireSession(_ session: SessionRecord, event: NewEvent, now callerNow: Date, takeOver: Bool, rule: @escaping LeaseRule) async throws -> SessionStart {
        let timing = leaseTiming
        if backend == .postgres, let started = try await startSessionInOneStatement(session, event: event, now: callerNow) {
            return .started(started)
        }
        // Urgent: the publisher is waiting for Publish.Start until this commits.
        return try await transaction(urgent: true) { [self] db in
            let now = try await leaseNow(db, callerNow)
            let ts = Timestamp.format(now), expires = Timestamp.format(now.addingTimeInterval(timing.timeToLive))
            for _ in 0..<3 {
                // The primary key decides between two nodes inserting at once: PostgreSQL makes
                // the second wait for the first's commit, then do nothing.
                let inserted = try await db.raw("""
                    INSERT INTO channel_leases (channel_id, session_id, node_id, state, expires_at, updated_at)
                    VALUES (\(bind: session.channelId), \(bind: session.id), \(bind: session.nodeId), 'live', \(bind: expires), \(bind: ts))
                    ON CONFLICT (channel_id) DO NOTHING RETURNING channel_id
                    """).first() != nil
                if inserted {
                    try await db.raw("""
                        INSERT INTO sessions (id, channel_id, node_id, started_at, remote_addr, encoder, user_id, started_ms)
                        VALUES (\(bind: session.id), \(bind: session.channelId), \(bind: session.nodeId), \(bind: Timestamp.format(session.startedAt)),
                          \(bind: session.remoteAddr), \(bind: session.encoder), (SELECT user_id FROM channels WHERE id = \(bind: session.channelId)),
                          \(bind: Self.epochMs(session.startedAt)))
                        """).run()
                    try await recordLivePeak(db, channelId: session.channelId, at: session.startedAt)
                    try await db.raw("""
                        UPDATE channels SET status = 'live', session_id = \(bind: session.id), last_live_at = \(bind: ts)
                        WHERE id = \(bind: session.channelId)
                        """).run()
                    return .started(try await insertEvent(db, event, now: now))
                }
                guard let lease = try await db.raw("SELECT * FROM channel_leases WHERE channel_id = \(bind: session.channelId) \(unsafeRaw: lockRow)")
                    .first().map(Self.decodeLease) else { continue } // ended meanwhile: try again
                // The decision table's cross-node half is the ingest domain's (`rule`); the store
                // reads the facts and carries out the verdict, all in this transaction.
                let window = try await db.raw("SELECT reconnect_window_sec FROM channels WHERE id = \(bind: lease.channelId)").first()?
                    .decode(column: "reconnect_window_sec", as: Int.self) ?? 0
                let facts = LeaseFacts(lease: lease, now: now, takeOver: takeOver, reconnectWindow: TimeInterval(window),
                                       timeToLive: timing.timeToLive, renewInterval: timing.renewInterval)
                let replaced: Bool
                switch rule(facts) {
                case .endThenRetry(let reason):
                    _ = try await releaseAndEnd(db, lease, reason: reason.rawValue, now: now)
                    continue
                case .busy(let node):
                    // Expressed on the caller's clock: the caller may hold the publish that long.
                    return .busy(node: node, retryAt: lease.state == .live ? callerNow.addingTimeInterval(max(0, lease.expiresAt.timeIntervalSince(now))) : nil,
                                 late: false)
                case .holderSilent(let node, let until):
                    return .busy(node: node, retryAt: callerNow.addingTimeInterval(max(0, until.timeIntervalSince(now))), late: true)
                case .continueHere(let byReplace):
                    replaced = byReplace
                }
                if !replaced && lease.state == .live {
                    // A lost node's live session, its publisher back here: first what the node
                    // could not say — its publisher left with it, at its last renewal.
                    let leftAt = facts.lastRenewal
                    try await db.raw("UPDATE channels SET status = 'reconnecting' WHERE id = \(bind: lease.channelId) AND session_id = \(bind: lease.sessionId)").run()
                    if let disconnected = try await lifecycleEvent(db, .channelDisconnected, sessionId: lease.sessionId, now: now, extra: [
                        "nodeId": .string(lease.nodeId), "reason": .string(OfflineReason.nodeLost.rawValue), "leftAt": .string(Timestamp.format(leftAt)),
                        "windowEndsAt": .string(Timestamp.format(leftAt.addingTimeInterval(TimeInterval(window)))),
                    ]) {
                        _ = try await insertEvent(db, disconnected, now: now)
                    }
                }
                if !replaced {
                    // Back through this node inside the window: the channel is live again, said in the same transaction.
                    try await db.raw("UPDATE channels SET status = 'live' WHERE id = \(bind: lease.channelId) AND session_id = \(bind: lease.sessionId)").run()
                    if let reconnected = try await lifecycleEvent(db, .channelReconnected, sessionId: lease.sessionId, now: now,
                                                                  extra: ["remoteAddr": .string(session.remoteAddr), "nodeId": .string(session.nodeId)]) {
                        _ = try await insertEvent(db, reconnected, now: now)
                    }
                }
                try await db.raw("""
                    UPDATE channel_leases SET node_id = \(bind: session.nodeId), state = 'live', window_ends_at = NULL, end_reason = NULL,
                      expires_at = \(bind: expires), stats = NULL, updated_at = \(bind: ts)
                    WHERE channel_id = \(bind: lease.channelId)
                    """).run()
                try await db.raw("UPDATE sessions SET node_id = \(bind: session.nodeId) WHERE id = \(bind: lease.sessionId)").run()
                guard let continued = try await db.raw("SELECT * FROM sessions WHERE id = \(bind: lease.sessionId)").first().map(Self.decodeSession) else {
                    throw StoreError.conflict("lease \(lease.channelId) names no session")
                }
                try await notify(db, .leaseMoved(channelId: lease.channelId, sessionId: lease.sessionId, from: lease.nodeId, to: session.nodeId))
                return .continued(continued, fromNode: lease.nodeId, replaced: replaced)
            }
            throw StoreError.conflict("the channel's lease kept changing")
        }
    }

    /// `startSession` of a single node: a new session, or a conflict (a lease held in any state).
    public func startSession(_ session: SessionRecord, event: NewEvent, now: Date) async throws -> StoredEvent {
        guard case .started(let stored) = try await acquireSession(session, event: event, now: now, takeOver: false,
                                                                   rule: { .busy(node: $0.lease.nodeId) }) else {
            throw StoreError.conflict("channel \(session.channelId) already has a session")
        }
        return stored
    }

    /// The holder's session changes phase (its publisher lost: `reconnecting` until `windowEndsAt`;
    /// back: `live`). False when this node no longer holds it.
    public func markLease(channelId: String, sessionId: String, nodeId: String, state: SessionLease.State, windowEndsAt: Date?, endReason: String?,
                          now: Date) async throws -> Bool {
        try await markLease(channelId: channelId, sessionId: sessionId, nodeId: nodeId, state: state, windowEndsAt: windowEndsAt,
                            endReason: endReason, leftAt: nil, now: now, announce: false)
    }

    /// `markLease`, and the channel's `status` follows it (`reconnecting` while the window runs,
    /// `live` when the publisher is back) with, when `announce`, `channel.disconnected` (reason,
    /// when the publisher left, window end) or `channel.reconnected` — all in one transaction,
    /// so the status an integrator reads and the event it receives never disagree.
    public func markLease(channelId: String, sessionId: String, nodeId: String, state: SessionLease.State, windowEndsAt: Date?, endReason: String?,
                          leftAt: Date?, now callerNow: Date, announce: Bool) async throws -> Bool {
        let ttl = leaseTiming.timeToLive
        return try await transaction { [self] db in
            let now = try await leaseNow(db, callerNow)
            let ts = Timestamp.format(now)
            let held = try await db.raw("""
                UPDATE channel_leases SET state = \(bind: state.rawValue), window_ends_at = \(bind: windowEndsAt.map(Timestamp.format)),
                  end_reason = \(bind: endReason), left_at = \(bind: leftAt.map(Timestamp.format)),
                  expires_at = \(bind: Timestamp.format(now.addingTimeInterval(ttl))), updated_at = \(bind: ts)
                WHERE channel_id = \(bind: channelId) AND session_id = \(bind: sessionId) AND node_id = \(bind: nodeId) RETURNING channel_id
                """).first() != nil
            guard held else { return false }
            let status: Channel.Status = state == .reconnecting ? .reconnecting : .live
            let changed = try await db.raw("""
                UPDATE channels SET status = \(bind: status.rawValue) WHERE id = \(bind: channelId) AND session_id = \(bind: sessionId)
                  AND status <> \(bind: status.rawValue) RETURNING id
                """).first() != nil
            guard announce, changed else { return true }
            var extra: [String: JSONValue] = ["nodeId": .string(nodeId)]
            if state == .reconnecting {
                extra["reason"] = endReason.map(JSONValue.string) ?? .null
                extra["leftAt"] = leftAt.map { .string(Timestamp.format($0)) } ?? .null
                extra["windowEndsAt"] = windowEndsAt.map { .string(Timestamp.format($0)) } ?? .null
            }
            if let event = try await lifecycleEvent(db, state == .reconnecting ? .channelDisconnected : .channelReconnected, sessionId: sessionId,
                                                    now: now, extra: extra) {
                _ = try await insertEvent(db, event, now: now)
            }
            return true
        }
    }

    /// Renews the leases `nodeId` holds for the sessions it carries (`carrying`: channel →
    /// session) and stores its stats snapshots; returns what it still holds: a carried session
    /// missing was taken over or ended by another node.
    ///
    /// Only what the node carries: a lease under its id that it does not carry (a publish whose
    /// write landed after the node gave up on it, a session a previous run left behind) is not
    /// kept alive by the heartbeat — renewed blindly, it stayed `live` for ever, refusing every
    /// publisher of its channel as busy. It expires instead and any node takes it up as a lost
    /// node's (`claimExpiredLeases`: the publisher may come back inside the window). The
    /// renewal names those in `notCarried`, for the node to say so.
    ///
    /// Fencing: a live lease another node found expired and set waiting for its publisher
    /// (`claimExpiredLeases`: reconnecting, `node_lost`) is not renewed — this node was taken
    /// for lost; it lets the session go (its publisher reconnects, to any node) and writes
    /// nothing more under that lease.
    public func renewLeases(nodeId: String, carrying: [String: String], now callerNow: Date, stats: [String: String]) async throws -> LeaseRenewal {
        let ttl = leaseTiming.timeToLive
        let asked = ContinuousClock.now
        // Urgent, like a publish: behind a flood of background writes (events, health) a renewal
        // that waited longer than the lease's life let this node's own leases expire — and its
        // own sweep then ended live sessions as "lost" (seen at 2,000 publishers on SQLite).
        return try await transaction(urgent: true) { [self] db in
            // The lease lives from when it is written: a renewal that waited a second or more for
            // the writer counts from the caller's time plus that wait (shorter waits, and a
            // test's manual clock, keep the caller's time as it is).
            let waited = ContinuousClock.now - asked
            let waitedSec = Double(waited.components.seconds) + Double(waited.components.attoseconds) / 1e18
            let now = try await leaseNow(db, waitedSec >= 1 ? callerNow.addingTimeInterval(waitedSec) : callerNow)
            let ts = Timestamp.format(now), expires = Timestamp.format(now.addingTimeInterval(ttl))
            var renewal = LeaseRenewal(held: [:])
            let notLost = OfflineReason.nodeLost.rawValue
            // Each returned lease: held when it is the carried session, else not carried.
            func classify(_ rows: [any SQLRow]) throws {
                for row in rows {
                    let channelId = try row.decode(column: "channel_id", as: String.self), sessionId = try row.decode(column: "session_id", as: String.self)
                    if carrying[channelId] == sessionId {
                        renewal.held[channelId] = sessionId
                    } else {
                        renewal.notCarried[channelId] = sessionId
                    }
                }
            }
            // Written with `CanonicalJSON`, not `JSONSerialization` (which boxes every entry:
            // 2.7 % of the gateway's CPU at 1,500 publishers — BENCHMARKS.md, "eleventh session").
            func json(_ values: [String: String]) -> String { CanonicalJSON.serialize(.object(values.mapValues { .string($0) })) }
            if backend == .postgres {
                // One statement per round whatever the number of channels (2,000 live channels
                // made 2,001 statements): the figures and the carried sessions travel as JSON
                // objects keyed by channel id, parsed once into `jsonb` (the plan folds the
                // cast), and each of the node's rows looks its own up. A row not carried is
                // returned untouched.
                let figures: SQLQueryString = "\(bind: json(stats))::jsonb", carried: SQLQueryString = "\(bind: json(carrying))::jsonb"
                let isCarried: SQLQueryString = "(\(carried) ->> channel_id) = session_id"
                try classify(try await db.raw("""
                    UPDATE channel_leases SET expires_at = CASE WHEN \(isCarried) THEN \(bind: expires) ELSE expires_at END,
                      stats = CASE WHEN \(isCarried) THEN COALESCE(\(figures) ->> channel_id, stats) ELSE stats END,
                      updated_at = CASE WHEN \(isCarried) AND \(figures) ->> channel_id IS NOT NULL THEN \(bind: ts) ELSE updated_at END
                    WHERE node_id = \(bind: nodeId) AND NOT (state = 'reconnecting' AND end_reason = \(bind: notLost))
                    RETURNING channel_id, session_id
                    """).all())
            } else {
                // SQLite's `->>` on a bound JSON text does not parse it once per statement: each
                // call finds its parse in a cache by comparing the whole text, so a renewal of N
                // leases did N × (the text's length) work — 117 ms holding the writer at 2,000
                // live channels, 2 s at 8,000. Here the carried list drives the update instead:
                // `json_each` reads it once, each entry finds its lease by primary key (`+node_id`
                // keeps the planner from starting at the node's index and scanning the list
                // once per lease), and a read of the node's leases names those not carried.
                // Both are linear (10 ms at 2,000; `SQLiteLayerTests` counts their steps).
                let entries = CanonicalJSON.serialize(.object(carrying.reduce(into: [:]) { entries, carried in
                    entries[carried.key] = .array([.string(carried.value), stats[carried.key].map { .string($0) } ?? .null])
                }))
                try classify(try await db.raw("""
                    UPDATE channel_leases SET expires_at = \(bind: expires), stats = COALESCE(c.value ->> 1, channel_leases.stats),
                      updated_at = CASE WHEN c.value ->> 1 IS NOT NULL THEN \(bind: ts) ELSE channel_leases.updated_at END
                    FROM json_each(\(bind: entries)) AS c
                    WHERE channel_leases.channel_id = c.key AND channel_leases.session_id = c.value ->> 0 AND +node_id = \(bind: nodeId)
                      AND NOT (state = 'reconnecting' AND end_reason = \(bind: notLost))
                    RETURNING channel_leases.channel_id AS channel_id, channel_leases.session_id AS session_id
                    """).all())
                for row in try await db.raw("""
                    SELECT channel_id, session_id FROM channel_leases
                    WHERE node_id = \(bind: nodeId) AND NOT (state = 'reconnecting' AND end_reason = \(bind: notLost))
                    """).all() {
                    let channelId = try row.decode(column: "channel_id", as: String.self)
                    if renewal.held[channelId] == nil { renewal.notCarried[channelId] = try row.decode(column: "session_id", as: String.self) }
                }
            }
            return renewal
        }
    }

    /// Ends the sessions of leases nobody renewed (their node is lost) with `node_lost`: each
    /// claimed by one node (`SKIP LOCKED`: nodes sweeping at once take different rows), its end
    /// and `channel.offline` in the claim's transaction.
    /// A lease's window is no reason to keep it: live, or reconnecting with its window closed
    /// (timestamps are fixed-width ISO text, so they compare as text). A reconnecting session of
    /// a stopped or lost node waits out its window for its publisher (docs/contract.md §7).
    static func windowOver(_ ts: String) -> String {
        "(state <> 'reconnecting' OR window_ends_at IS NULL OR window_ends_at < '\(ts)')"
    }

    public func claimExpiredLeases(now callerNow: Date, limit: Int) async throws -> [LostSession] {
        // Cheap when nothing expired (the common case): a read, no write lock.
        let any = try await read { [self] db in
            let ts = Timestamp.format(try await leaseNow(db, callerNow))
            return try await db.raw("SELECT channel_id FROM channel_leases WHERE expires_at < \(bind: ts) AND \(unsafeRaw: Self.windowOver(ts)) LIMIT 1").first() != nil
        }
        guard any else { return [] }
        let ttl = leaseTiming.timeToLive
        return try await transaction { [self] db in
            let now = try await leaseNow(db, callerNow)
            let ts = Timestamp.format(now)
            let leases = try await db.raw("""
                SELECT * FROM channel_leases WHERE expires_at < \(bind: ts) AND \(unsafeRaw: Self.windowOver(ts))
                ORDER BY expires_at LIMIT \(unsafeRaw: String(max(1, limit))) \(unsafeRaw: lockRowSkipLocked)
                """).all().map(Self.decodeLease)
            var lost: [LostSession] = []
            for lease in leases {
                // A live session of a lost node: its publisher went with the node, and may come
                // back through any node while the channel's window — counted from the node's
                // last renewal — is open. It waits (reconnecting, `channel.disconnected`); it
                // ends with `node_lost` only if nobody comes back.
                let lastRenewal = lease.expiresAt.addingTimeInterval(-ttl)
                if lease.state == .live,
                   let window = try await db.raw("SELECT reconnect_window_sec FROM channels WHERE id = \(bind: lease.channelId)").first()?
                       .decode(column: "reconnect_window_sec", as: Int.self), window > 0,
                   lastRenewal.addingTimeInterval(TimeInterval(window)) > now {
                    let windowEnd = lastRenewal.addingTimeInterval(TimeInterval(window))
                    try await db.raw("""
                        UPDATE channel_leases SET state = 'reconnecting', window_ends_at = \(bind: Timestamp.format(windowEnd)),
                          end_reason = \(bind: OfflineReason.nodeLost.rawValue), left_at = \(bind: Timestamp.format(lastRenewal)), updated_at = \(bind: ts)
                        WHERE channel_id = \(bind: lease.channelId) AND session_id = \(bind: lease.sessionId)
                        """).run()
                    try await db.raw("UPDATE channels SET status = 'reconnecting' WHERE id = \(bind: lease.channelId) AND session_id = \(bind: lease.sessionId)").run()
                    guard let event = try await lifecycleEvent(db, .channelDisconnected, sessionId: lease.sessionId, now: now, extra: [
                        "nodeId": .string(lease.nodeId), "reason": .string(OfflineReason.nodeLost.rawValue),
                        "leftAt": .string(Timestamp.format(lastRenewal)), "windowEndsAt": .string(Timestamp.format(windowEnd)),
                    ]), let session = try await db.raw("SELECT * FROM sessions WHERE id = \(bind: lease.sessionId)").first().map(Self.decodeSession) else { continue }
                    lost.append(LostSession(session: session, lostNode: lease.nodeId, event: try await insertEvent(db, event, now: now), waitingUntil: windowEnd))
                    continue
                }
                // A reconnecting session (its publisher had left, or its node handed it over when
                // stopping) ended when its window closed, for the reason it was waiting: its node's
                // death changes nothing. A live one ended with its node.
                let reason = lease.state == .reconnecting ? (lease.endReason ?? OfflineReason.nodeLost.rawValue) : OfflineReason.nodeLost.rawValue
                guard let (session, event) = try await releaseAndEnd(db, lease, reason: reason, now: now) else { continue }
                lost.append(LostSession(session: session, lostNode: lease.nodeId, event: event))
            }
            return lost
        }
    }

    /// The user's channels whose sessions other nodes carry (live or reconnecting), but
    /// `excluding`: what `maxConcurrentLive` counts beside this node's own.
    public func sessionsElsewhere(userId: String, nodeId: String, excluding channelId: String) async throws -> Int {
        try await read { db in
            try await db.raw("""
                SELECT COUNT(*) AS n FROM channel_leases l JOIN channels c ON c.id = l.channel_id
                WHERE c.user_id = \(bind: userId) AND l.node_id <> \(bind: nodeId) AND l.channel_id <> \(bind: channelId)
                """).first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    public func lease(channelId: String) async throws -> SessionLease? {
        try await read { db in try await db.raw("SELECT * FROM channel_leases WHERE channel_id = \(bind: channelId)").first().map(Self.decodeLease) }
    }

    /// Inside a transaction holding `lease`: removes it and ends its session.
    ///
    /// The session ends when its last publisher left (docs/contract.md §2, "Sessions span
    /// connections"): a reconnecting lease at its `left_at`; a lost node's live session at the
    /// node's last renewal (the lease's expiry less its lifetime), not when it was swept.
    private func releaseAndEnd(_ db: any SQLDatabase, _ lease: SessionLease, reason: String, now: Date) async throws -> (SessionRecord, StoredEvent)? {
        try await db.raw("DELETE FROM channel_leases WHERE channel_id = \(bind: lease.channelId) AND session_id = \(bind: lease.sessionId)").run()
        let lastRenewal = lease.expiresAt.addingTimeInterval(-leaseTiming.timeToLive)
        let endedAt = min(now, lease.state == .reconnecting ? (lease.leftAt ?? lastRenewal) : lastRenewal)
        return try await endOpenSession(db, id: lease.sessionId, reason: reason, endedAt: endedAt, now: now, event: nil)
    }

    /// Inside a transaction: a lifecycle event of the session's channel (`channel.disconnected`,
    /// `channel.reconnected`) built from the rows as they are now, with `extra` fields in `data`.
    func lifecycleEvent(_ db: any SQLDatabase, _ type: EventType, sessionId: String, now: Date, extra: [String: JSONValue]) async throws -> NewEvent? {
        guard let session = try await db.raw("SELECT * FROM sessions WHERE id = \(bind: sessionId)").first().map(Self.decodeSession) else { return nil }
        let channel = try await db.raw("SELECT * FROM channels WHERE id = \(bind: session.channelId)").first().map(Self.decodeChannel)
        var data: [String: JSONValue] = ["channel": channel?.eventJSON ?? .null, "session": session.json]
        for (key, value) in extra { data[key] = value }
        return .make(type: type.rawValue, channelId: session.channelId, userId: channel?.userId ?? session.userId, at: now, data: .object(data))
    }

    /// Inside a transaction: ends the session if it is still open — one conditional statement,
    /// so of two transactions ending it one does — marks its channel offline and queues
    /// `channel.offline` (`event`, or one built from the rows). Nil when it had already ended.
    func endOpenSession(_ db: any SQLDatabase, id: String, reason: String, endedAt: Date, now: Date, event: NewEvent?) async throws -> (SessionRecord, StoredEvent)? {
        guard let session = try await db.raw("""
            UPDATE sessions SET ended_at = \(bind: Timestamp.format(endedAt)), end_reason = \(bind: reason), ended_ms = \(bind: Self.epochMs(endedAt))
            WHERE id = \(bind: id) AND ended_at IS NULL RETURNING *
            """).first().map(Self.decodeSession) else { return nil }
        try await recordSessionLength(db, userId: session.userId, length: Self.epochMs(endedAt) - Self.epochMs(session.startedAt))
        try await rollUp(db, userId: session.userId, channelId: session.channelId, start: Self.epochMs(session.startedAt), end: Self.epochMs(endedAt),
                         bytes: Double(session.bytesIn), degraded: session.health.degraded, starving: session.health.starving, time: true)
        try await db.raw("UPDATE channels SET status = 'offline', session_id = NULL WHERE session_id = \(bind: id)").run()
        let built: NewEvent
        if let event {
            built = event
        } else {
            let channel = try await db.raw("SELECT * FROM channels WHERE id = \(bind: session.channelId)").first().map(Self.decodeChannel)
            built = .channelOffline(channel: channel, session: session, at: now)
        }
        return (session, try await insertEvent(db, built, now: now))
    }

    /// Inside a transaction: a message to every node, delivered when (and only if) it commits.
    func notify(_ db: any SQLDatabase, _ message: ClusterMessage) async throws {
        guard backend == .postgres else { return }
        try await db.raw("SELECT pg_notify(\(bind: Self.notifyChannel), \(bind: message.payload))").run()
    }

    /// Sends a message to every node now (PostgreSQL; nothing to send on SQLite, a single node).
    public func broadcast(_ message: ClusterMessage) async throws {
        guard backend == .postgres else { return }
        _ = try await write { db in try await db.raw("SELECT pg_notify(\(bind: Self.notifyChannel), \(bind: message.payload))").run() }
    }

    static func decodeLease(_ row: any SQLRow) throws -> SessionLease {
        SessionLease(channelId: try row.decode(column: "channel_id", as: String.self), sessionId: try row.decode(column: "session_id", as: String.self),
                     nodeId: try row.decode(column: "node_id", as: String.self),
                     state: SessionLease.State(rawValue: try row.decode(column: "state", as: String.self)) ?? .live,
                     windowEndsAt: try row.decode(column: "window_ends_at", as: String?.self).map(Timestamp.parse),
                     endReason: try row.decode(column: "end_reason", as: String?.self),
                     expiresAt: Timestamp.parse(try row.decode(column: "expires_at", as: String.self)),
                     stats: try row.decode(column: "stats", as: String?.self),
                     leftAt: try row.decode(column: "left_at", as: String?.self).map(Timestamp.parse))
    }
}
