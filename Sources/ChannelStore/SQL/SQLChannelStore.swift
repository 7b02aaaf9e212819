import LiveGateModel
import Foundation
import Logging
import NIOConcurrencyHelpers
import SQLKit

/// `ChannelStore` over SQLKit. The same SQL serves SQLite and PostgreSQL; the few differences
/// (DDL types, locking) live in `SQLBackend`. Timestamps are stored as RFC 3339 text with
/// milliseconds in UTC, which sorts correctly as text on both backends.
public final class SQLChannelStore: ChannelStore {
    let db: any SQLDatabase
    public let backend: SQLBackend
    private let serial: AsyncSerialLock?
    /// SQLite only: extra `query_only` connections for reads. WAL lets them read while the
    /// writer writes, so a stream-key lookup does not queue behind webhook bookkeeping.
    let readers: [ReadConnection]
    private let nextReader = NIOLockedValueBox(0)
    private let onClose: @Sendable () async -> Void

    public var backendName: String { backend.rawValue }

    /// How leases are timed (docs/contract.md §7): their lifetime and renewal period
    /// (`cluster.leaseTtlSec`), and whether lease times are read from the database's clock
    /// (several nodes on PostgreSQL: no node's clock skew can make another's lease look
    /// expired) rather than taken from the caller (one node; tests on a manual clock).
    public struct LeaseTiming: Sendable {
        public var timeToLive: TimeInterval = SessionLease.timeToLive
        public var renewInterval: TimeInterval = SessionLease.renewInterval
        public var databaseClock = false
        public init() {}
    }
    private let leaseTimingBox = NIOLockedValueBox(LeaseTiming())
    public var leaseTiming: LeaseTiming {
        get { leaseTimingBox.withLockedValue { $0 } }
        set { leaseTimingBox.withLockedValue { $0 = newValue } }
    }

    /// Inside a lease transaction: the time leases are judged at — the database's, when so
    /// configured, else the caller's `now`.
    func leaseNow(_ db: any SQLDatabase, _ now: Date) async throws -> Date {
        guard backend == .postgres, leaseTiming.databaseClock else { return now }
        let seconds = try await db.raw("SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8 AS now").first()?.decode(column: "now", as: Double.self)
        return seconds.map { Date(timeIntervalSince1970: $0) } ?? now
    }

    /// A read-only SQLite connection and the lock that keeps it to one operation at a time.
    struct ReadConnection: Sendable {
        let db: any SQLDatabase
        let lock = AsyncSerialLock()
    }

    init(db: any SQLDatabase, backend: SQLBackend, readers: [any SQLDatabase] = [], poolCapacity: Int = 0,
         onClose: @escaping @Sendable () async -> Void) {
        self.db = db
        self.readAttempts = poolCapacity + 1
        self.backend = backend
        self.serial = backend == .sqlite ? AsyncSerialLock() : nil
        self.readers = readers.map { ReadConnection(db: $0) }
        self.onClose = onClose
    }

    public func close() async { await onClose() }

    // MARK: Execution helpers

    /// Tries of a read on dropped connections: one more than the connections the whole pool can
    /// hold (every event loop's), so a pool whose every connection was ended at once still
    /// answers — each try can take a different loop's pool, so the bound is the total. (Six,
    /// sized for one loop's four, failed one read in 4,940 on a machine with more cores.)
    let readAttempts: Int

    /// Runs a read-only `body`: on SQLite on one of the read connections (a write there fails:
    /// they are `query_only`), on PostgreSQL on the pool. A read that meets a dropped
    /// connection (PostgreSQL restarting) is tried again on another: it changes nothing, so
    /// repeating it is safe.
    func read<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        guard !readers.isEmpty else {
            // Every pooled connection may have been ended at once (a restart): each retry takes
            // the next one, dead ones leave the pool, and a fresh connection answers.
            var attempt = 1
            while true {
                do {
                    return try await write(body)
                } catch where StoreFactory.isDroppedConnection(error) && attempt < readAttempts {
                    attempt += 1
                }
            }
        }
        let slot = readers[nextReader.withLockedValue { n in
            n = (n + 1) % readers.count
            return n
        }]
        await slot.lock.lock()
        do {
            let r = try await body(slot.db)
            await slot.lock.unlock()
            return r
        } catch {
            await slot.lock.unlock()
            throw error
        }
    }

    /// Runs `body` with the writing connection; on SQLite, one operation at a time, `urgent`
    /// ones (a publisher waiting for its answer) ahead of the rest.
    func write<R: Sendable>(urgent: Bool = false, _ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        if let serial {
            await serial.lock(urgent: urgent)
            do {
                let r = try await body(db)
                await serial.unlock()
                return r
            } catch {
                await serial.unlock()
                throw error
            }
        }
        let db = self.db
        return try await StoreDeadline.run { try await body(db) }
    }

    /// Runs `body` in one transaction on one connection; rolls back on any error.
    ///
    /// The rollback runs in a task of its own, so a cancelled caller (a dispatcher stopped
    /// mid-write) cannot skip it: on SQLite the one writing connection would otherwise stay
    /// inside the open transaction, and every later write would fail with "cannot start a
    /// transaction within a transaction". Should that still happen (a rollback the database
    /// refused), the next `BEGIN` ends the stale transaction and starts again once.
    func transaction<R: Sendable>(urgent: Bool = false, _ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let begin = backend.beginWrite
        let sqlite = backend == .sqlite
        return try await write(urgent: urgent) { db in
            try await db.withSession { session in
                do {
                    try await session.raw(SQLQueryString(begin)).run()
                } catch where sqlite && "\(error)".contains("within a transaction") {
                    try await Task { try await session.raw("ROLLBACK").run() }.value
                    try await session.raw(SQLQueryString(begin)).run()
                }
                do {
                    let result = try await body(session)
                    try await session.raw("COMMIT").run()
                    return result
                } catch {
                    await Task { try? await session.raw("ROLLBACK").run() }.value
                    throw error
                }
            }
        }
    }

    /// Applies pending migrations.
    public func migrate(logger: Logger) async throws {
        let postgres = backend == .postgres
        try await transaction { db in
            // Under the migrations' lock too: two nodes of a new cluster creating the table at once
            // collide in PostgreSQL's catalogue (23505) despite `IF NOT EXISTS`.
            if postgres { try await db.raw("SELECT pg_advisory_xact_lock(7347001)").run() }
            try await db.raw("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)").run()
        }
        let applied = try await write { db in
            try await db.raw("SELECT version FROM schema_migrations").all().map { try $0.decode(column: "version", as: Int.self) }
        }
        for migration in Migrations.all where !applied.contains(migration.version) {
            let statements = migration.statements(backend)
            let now = Timestamp.format(Date())
            let ran: Bool = try await transaction { db in
                // Two gateways starting at once against one PostgreSQL: the second waits, then skips.
                if postgres { try await db.raw("SELECT pg_advisory_xact_lock(7347001)").run() }
                let done = try await db.raw("SELECT version FROM schema_migrations WHERE version = \(bind: migration.version)").first() != nil
                if done { return false }
                for statement in statements { try await db.raw(SQLQueryString(statement)).run() }
                try await db.raw("INSERT INTO schema_migrations (version, name, applied_at) VALUES (\(bind: migration.version), \(bind: migration.name), \(bind: now))").run()
                return true
            }
            if ran {
                logger.info("database migration applied", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            }
        }
        try await normalizeStoredUserIds(logger: logger)
    }

    public func ping() async throws {
        _ = try await read { db in try await db.raw("SELECT 1 AS one").first() }
    }

    // MARK: Channels

    static let channelColumns = """
        seq, id, user_id, name, description, tags, stream_key, status, enabled, hls, record, reconnect_window_sec,
        duplicate_policy, metadata, created_at, updated_at, last_live_at, session_id, playback_policy,
        cooldown_until, cooldown_limit, renditions
        """

    public func createChannel(id: String, streamKey: String, fields: ChannelFields, now: Date) async throws -> Channel {
        var channel = Channel(id: id, userId: "", name: "", streamKey: streamKey, createdAt: now, updatedAt: now)
        fields.apply(to: &channel)
        let c = channel
        try await transaction { [self] db in
            try await checkChannelQuota(db, userId: c.userId)
            let ts = Timestamp.format(now)
            try await db.raw("""
                INSERT INTO channels (id, user_id, name, description, tags, stream_key, status, enabled, hls, record,
                  reconnect_window_sec, duplicate_policy, metadata, created_at, updated_at, playback_policy, renditions)
                VALUES (\(bind: c.id), \(bind: c.userId), \(bind: c.name), \(bind: c.description), \(bind: JSONValue.array(c.tags.map { .string($0) }).jsonText),
                  \(bind: c.streamKey), \(bind: c.status.rawValue), \(bind: c.enabled ? 1 : 0), \(bind: c.hls ? 1 : 0), \(bind: c.record ? 1 : 0),
                  \(bind: c.reconnectWindowSec), \(bind: c.duplicatePolicy.rawValue), \(bind: c.metadata.jsonText), \(bind: ts), \(bind: ts),
                  \(bind: c.playbackPolicy.rawValue), \(bind: c.renditions == nil ? nil : c.renditionsJSON.jsonText))
                """).run()
        }
        return try await self.channel(id: id) ?? channel
    }

    /// Within a write transaction: refuses when the user already has `maxChannels` channels.
    /// PostgreSQL serialises per user with an advisory lock; SQLite's `BEGIN IMMEDIATE` already does.
    private func checkChannelQuota(_ db: any SQLDatabase, userId: String) async throws {
        if backend == .postgres {
            try await db.raw("SELECT pg_advisory_xact_lock(hashtext(\(bind: "channels:" + userId)))").run()
        }
        let limit = try await db.raw("SELECT max_channels FROM user_limits WHERE user_id = \(bind: userId)").first()?
            .decode(column: "max_channels", as: Int?.self)
        guard let limit else { return }
        let count = try await db.raw("SELECT COUNT(*) AS n FROM channels WHERE user_id = \(bind: userId)").first()?
            .decode(column: "n", as: Int.self) ?? 0
        if count >= limit { throw StoreError.limitReached("maxChannels") }
    }

    public func channel(id: String) async throws -> Channel? {
        try await read { db in
            try await db.raw("SELECT \(unsafeRaw: Self.channelColumns) FROM channels WHERE id = \(bind: id)").first().map(Self.decodeChannel)
        }
    }

    public func channel(streamKey: String) async throws -> Channel? {
        try await read { db in
            try await db.raw("SELECT \(unsafeRaw: Self.channelColumns) FROM channels WHERE stream_key = \(bind: streamKey)").first().map(Self.decodeChannel)
        }
    }

    /// Keyset paging on `seq`: the rows after the cursor in the list's order, and that order.
    static func keyset(_ cursor: String?, descending: Bool) throws -> (where: SQLQueryString, order: String) {
        let position = try Cursor.decode(cursor)
        if descending {
            return (cursor == nil || cursor?.isEmpty == true ? "seq > 0" : "seq < \(bind: position)", " ORDER BY seq DESC")
        }
        return ("seq > \(bind: position)", " ORDER BY seq")
    }

    public func listChannels(_ query: ChannelQuery) async throws -> Page<Channel> {
        let (position, order) = try Self.keyset(query.cursor, descending: query.descending)
        let limit = max(1, min(query.limit, 100))
        let rows = try await read { db in
            var sql = SQLQueryString("SELECT \(unsafeRaw: Self.channelColumns) FROM channels WHERE ")
            sql.appendInterpolation(position)
            Self.appendFilters(&sql, query)
            sql.appendInterpolation(unsafeRaw: order + " LIMIT \(limit + 1)")
            return try await db.raw(sql).all()
        }
        let channels = try rows.map(Self.decodeChannel)
        let page = Array(channels.prefix(limit))
        let next = channels.count > limit ? try rows[limit - 1].decode(column: "seq", as: Int64.self) : nil
        return Page(items: page, nextCursor: next.map(Cursor.encode))
    }

    static func appendFilters(_ sql: inout SQLQueryString, _ q: ChannelQuery) {
        if let status = q.status { sql.appendInterpolation(unsafeRaw: " AND status = "); sql.appendInterpolation(bind: status.rawValue) }
        if let userId = q.userId { sql.appendInterpolation(unsafeRaw: " AND user_id = "); sql.appendInterpolation(bind: userId) }
        if let node = q.nodeId {
            sql.appendInterpolation(unsafeRaw: " AND id IN (SELECT channel_id FROM channel_leases WHERE node_id = ")
            sql.appendInterpolation(bind: node)
            sql.appendInterpolation(unsafeRaw: ")")
        }
        if let tag = q.tag {
            // Tags are a JSON array of strings; match the quoted element exactly.
            sql.appendInterpolation(unsafeRaw: " AND tags LIKE ")
            sql.appendInterpolation(bind: "%" + likeEscape(JSONValue.string(tag).jsonText) + "%")
            sql.appendInterpolation(unsafeRaw: " ESCAPE '\\'")
        }
        if let q = q.nameContains, !q.isEmpty {
            sql.appendInterpolation(unsafeRaw: " AND LOWER(name) LIKE ")
            sql.appendInterpolation(bind: "%" + likeEscape(q.lowercased()) + "%")
            sql.appendInterpolation(unsafeRaw: " ESCAPE '\\'")
        }
        if let from = q.createdFrom { sql.appendInterpolation(unsafeRaw: " AND created_at >= "); sql.appendInterpolation(bind: Timestamp.format(from)) }
        if let to = q.createdTo { sql.appendInterpolation(unsafeRaw: " AND created_at <= "); sql.appendInterpolation(bind: Timestamp.format(to)) }
    }

    static func likeEscape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
    }

    public func updateChannel(id: String, fields: ChannelFields, now: Date) async throws -> Channel? {
        let updated: Channel? = try await transaction { [self] db in
            guard var channel = try await db.raw("SELECT \(unsafeRaw: Self.channelColumns) FROM channels WHERE id = \(bind: id)").first().map(Self.decodeChannel) else {
                return nil
            }
            let previousOwner = channel.userId
            fields.apply(to: &channel)
            if channel.userId != previousOwner { try await checkChannelQuota(db, userId: channel.userId) }
            let c = channel
            try await db.raw("""
                UPDATE channels SET user_id = \(bind: c.userId), name = \(bind: c.name), description = \(bind: c.description),
                  tags = \(bind: JSONValue.array(c.tags.map { .string($0) }).jsonText), enabled = \(bind: c.enabled ? 1 : 0),
                  hls = \(bind: c.hls ? 1 : 0), record = \(bind: c.record ? 1 : 0), reconnect_window_sec = \(bind: c.reconnectWindowSec),
                  duplicate_policy = \(bind: c.duplicatePolicy.rawValue), metadata = \(bind: c.metadata.jsonText),
                  playback_policy = \(bind: c.playbackPolicy.rawValue), renditions = \(bind: c.renditions == nil ? nil : c.renditionsJSON.jsonText),
                  updated_at = \(bind: Timestamp.format(now))
                WHERE id = \(bind: id)
                """).run()
            return c
        }
        guard updated != nil else { return nil }
        return try await channel(id: id)
    }

    public func resetStreamKey(id: String, newKey: String, now: Date) async throws -> Channel? {
        let found = try await transaction { db in
            guard let old = try await db.raw("SELECT stream_key FROM channels WHERE id = \(bind: id)").first()
                .map({ try $0.decode(column: "stream_key", as: String.self) }) else { return false }
            try await db.raw("UPDATE channels SET stream_key = \(bind: newKey), updated_at = \(bind: Timestamp.format(now)) WHERE id = \(bind: id)").run()
            // The retired key is remembered for a day (docs/contract.md §2): a publish with it is
            // refused as `key_rotated` with the channel named, not as an unknown key.
            try await db.raw("DELETE FROM retired_keys WHERE retired_at < \(bind: Timestamp.format(now.addingTimeInterval(-Self.retiredKeyLifetime)))").run()
            try await db.raw("DELETE FROM retired_keys WHERE stream_key = \(bind: old)").run()
            try await db.raw("""
                INSERT INTO retired_keys (stream_key, channel_id, retired_at) VALUES (\(bind: old), \(bind: id), \(bind: Timestamp.format(now)))
                """).run()
            return true
        }
        return found ? try await channel(id: id) : nil
    }

    /// How long `reset-key` remembers a retired key.
    public static let retiredKeyLifetime: TimeInterval = 24 * 3600

    /// The channel whose key `streamKey` was until `reset-key` retired it in the last day.
    public func channelRetiring(streamKey: String, now: Date) async throws -> Channel? {
        try await read { db in
            guard let channelId = try await db.raw("""
                SELECT channel_id FROM retired_keys WHERE stream_key = \(bind: streamKey)
                  AND retired_at >= \(bind: Timestamp.format(now.addingTimeInterval(-Self.retiredKeyLifetime)))
                """).first().map({ try $0.decode(column: "channel_id", as: String.self) }) else { return nil }
            return try await db.raw("SELECT \(unsafeRaw: Self.channelColumns) FROM channels WHERE id = \(bind: channelId)").first().map(Self.decodeChannel)
        }
    }

    public func deleteChannel(id: String) async throws -> Bool {
        try await transaction { db in
            let exists = try await db.raw("SELECT id FROM channels WHERE id = \(bind: id)").first() != nil
            if exists {
                try await db.raw("DELETE FROM channels WHERE id = \(bind: id)").run()
                try await db.raw("DELETE FROM forwards WHERE channel_id = \(bind: id)").run()
            }
            return exists
        }
    }

    static func decodeChannel(_ row: any SQLRow) throws -> Channel {
        let tagsText = try row.decode(column: "tags", as: String.self)
        let tags: [String] = {
            if case .array(let a)? = JSONValue.parse(tagsText) { return a.compactMap { if case .string(let s) = $0 { s } else { nil } } }
            return []
        }()
        var channel = Channel(
            id: try row.decode(column: "id", as: String.self),
            userId: try row.decode(column: "user_id", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            description: try row.decode(column: "description", as: String.self),
            tags: tags,
            streamKey: try row.decode(column: "stream_key", as: String.self),
            status: Channel.Status(rawValue: try row.decode(column: "status", as: String.self)) ?? .offline,
            enabled: try row.decode(column: "enabled", as: Int.self) != 0,
            hls: try row.decode(column: "hls", as: Int.self) != 0,
            record: try row.decode(column: "record", as: Int.self) != 0,
            reconnectWindowSec: try row.decode(column: "reconnect_window_sec", as: Int.self),
            duplicatePolicy: Channel.DuplicatePolicy(rawValue: try row.decode(column: "duplicate_policy", as: String.self)) ?? .reject,
            metadata: JSONValue.parse(try row.decode(column: "metadata", as: String.self)) ?? .object([:]),
            createdAt: try Timestamp.parse(row.decode(column: "created_at", as: String.self)),
            updatedAt: try Timestamp.parse(row.decode(column: "updated_at", as: String.self)),
            lastLiveAt: try row.decode(column: "last_live_at", as: String?.self).map(Timestamp.parse),
            sessionId: try row.decode(column: "session_id", as: String?.self)
        )
        channel.playbackPolicy = Channel.PlaybackPolicy(rawValue: (try? row.decode(column: "playback_policy", as: String.self)) ?? "public") ?? .public
        channel.cooldownUntil = try row.decode(column: "cooldown_until", as: String?.self).map(Timestamp.parse)
        channel.cooldownLimit = try row.decode(column: "cooldown_limit", as: String?.self).flatMap(UserLimit.init(rawValue:))
        if let text = try row.decode(column: "renditions", as: String?.self), case .array(let items)? = JSONValue.parse(text) {
            channel.renditions = items.compactMap(Channel.Rendition.init(json:))
        }
        return channel
    }
}

/// List cursors: `c` and the position (the last row's sequence number, or an offset) in
/// decimal. Opaque to clients — they pass `nextCursor` back — but with a grammar simple enough
/// for the OpenAPI document to state exactly (`^c[0-9]{1,18}$`), so every cursor the document
/// allows is one the store accepts and every other is a 400.
public enum Cursor {
    public static let pattern = "^c[0-9]{1,18}$"

    static func encode(_ seq: Int64) -> String { "c\(seq)" }

    static func decode(_ cursor: String?) throws -> Int64 {
        guard let cursor, !cursor.isEmpty else { return 0 }
        let digits = cursor.utf8.dropFirst()
        guard cursor.utf8.first == UInt8(ascii: "c"), (1...18).contains(digits.count), digits.allSatisfy({ (48...57).contains($0) }),
              let seq = Int64(String(cursor.dropFirst()))
        else { throw StoreError.invalidCursor }
        return seq
    }
}
