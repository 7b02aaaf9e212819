import Dispatch
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SQLKit

/// One SQLite connection as SQLKit's `SQLDatabase`, its statements run synchronously, inline in
/// the calling task (docs/architecture.md "The store").
///
/// Why inline: a write transaction is several statements, and a publisher waits for the one that
/// starts its session. Handed one by one to a thread pool and answered through an event loop
/// (sqlite-nio), each statement cost three wake-ups; the session's transaction took 1.9 ms at the
/// median. Run where the task already is, a statement costs what SQLite spends on it (tens of
/// microseconds for the store's indexed statements), and the transaction 0.3–0.5 ms. The store
/// runs one operation per connection at a time (the writer's lock, each reader's lock), so the
/// connection's own lock is uncontended. The price: a statement occupies the calling thread while
/// it runs — for the store's statements microseconds; a wait for SQLite's file lock
/// (`busy_timeout`, only when another process writes the file) holds it longer.
/// Statements and their binds are never logged (stream keys, secrets, token hashes).
public struct SQLiteDatabase: SQLDatabase {
    let handle: SQLiteConnectionHandle
    public let logger: Logger
    public var eventLoop: any EventLoop { MultiThreadedEventLoopGroup.singleton.any() }
    public var dialect: any SQLDialect { SQLiteDialect() }
    public var queryLogLevel: Logger.Level? { nil }

    /// Opens (creating it if need be) the database file at `path`.
    public static func open(path: String, logger: Logger) throws -> SQLiteDatabase {
        SQLiteDatabase(handle: try SQLiteConnectionHandle(path: path), logger: logger)
    }

    public func close() { handle.close() }

    /// Checkpoints the WAL from `checkpointer` (another connection to the same file) on a queue
    /// of its own whenever a commit on this one leaves `threshold` pages or more in it — so no
    /// commit on this connection pays for a checkpoint's fsyncs. `PASSIVE`: it copies what it can
    /// without waiting for, or blocking, this connection's writes; one runs at a time. Past four
    /// times the threshold this connection's commits checkpoint themselves, after the one in
    /// flight (`SQLiteConnectionHandle.onWALGrowth`).
    public func checkpoint(from checkpointer: SQLiteDatabase, threshold: Int32 = 1000) {
        let pending = NIOLockedValueBox(false)
        let target = checkpointer.handle
        let queue = DispatchQueue(label: "livegate.sqlite-checkpoint")
        handle.onWALGrowth(threshold: threshold, {
            guard pending.withLockedValue({ was in defer { was = true }; return !was }) else { return }
            queue.async {
                try? target.run("PRAGMA wal_checkpoint(PASSIVE)", []) { _ in }
                pending.withLockedValue { $0 = false }
            }
        }, settle: { queue.sync {} })
    }

    /// Starts (or, with `false`, stops and returns) counting each statement's full-table-scan
    /// steps, by SQL text — the test of docs/architecture.md "The store" that every statement on a
    /// publish's path is answered by an index.
    @discardableResult
    public func countFullScans(_ on: Bool) -> [String: Int] {
        let counted = handle.fullScanSteps ?? [:]
        handle.fullScanSteps = on ? [:] : nil
        return counted
    }

    /// Starts (or, with `false`, stops and returns) counting each statement's virtual-machine
    /// steps, by SQL text: the work a statement does as a number, for tests of how it grows.
    @discardableResult
    public func countVMSteps(_ on: Bool) -> [String: Int] {
        let counted = handle.vmSteps ?? [:]
        handle.vmSteps = on ? [:] : nil
        return counted
    }

    public func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        let (sql, binds) = serialize(query)
        let values = try binds.map { try SQLiteValue.bound($0) }
        try handle.run(sql, values) { onRow($0) }
    }

    public func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        eventLoop.makeFutureWithTask { try await self.execute(sql: query, onRow) }
    }
}

/// SQLite's SQL as SQLKit renders it: `?N` placeholders, double-quoted identifiers, and the
/// features of the library Debian 12 ships (3.40: `RETURNING`, upserts, `->>`).
struct SQLiteDialect: SQLDialect {
    var name: String { "sqlite" }
    var identifierQuote: any SQLExpression { SQLRaw("\"") }
    var literalStringQuote: any SQLExpression { SQLRaw("'") }
    func bindPlaceholder(at position: Int) -> any SQLExpression { SQLRaw("?\(position)") }
    func literalBoolean(_ value: Bool) -> any SQLExpression { SQLRaw(value ? "TRUE" : "FALSE") }
    var literalDefault: any SQLExpression { SQLLiteral.null }
    var supportsIfExists: Bool { true }
    var supportsDropBehavior: Bool { false }
    var supportsAutoIncrement: Bool { false }
    var autoIncrementClause: any SQLExpression { SQLRaw("AUTOINCREMENT") }
    var enumSyntax: SQLEnumSyntax { .unsupported }
    var upsertSyntax: SQLUpsertSyntax { .standard }
    var supportsReturning: Bool { true }
    var unionFeatures: SQLUnionFeatures { [.union, .unionAll, .intersect, .except] }
    var alterTableSyntax: SQLAlterTableSyntax { .init(allowsBatch: false) }
}
