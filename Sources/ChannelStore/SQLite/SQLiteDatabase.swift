import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SQLKit

/// One SQLite connection as SQLKit's `SQLDatabase`, its statements run on its own `SQLiteThread`.
///
/// Called from that thread (inside `pinned`, as the store runs every transaction and read), a
/// statement runs at once, synchronously; called from anywhere else it hops there and back.
/// Statements and their binds are never logged (stream keys, secrets, token hashes).
public struct SQLiteDatabase: SQLDatabase {
    let handle: SQLiteConnectionHandle
    public let thread: SQLiteThread
    public let logger: Logger
    public var eventLoop: any EventLoop { MultiThreadedEventLoopGroup.singleton.any() }
    public var dialect: any SQLDialect { SQLiteDialect() }
    public var queryLogLevel: Logger.Level? { nil }

    /// Opens (creating it if need be) the database file at `path` on a new thread.
    public static func open(path: String, name: String, logger: Logger) async throws -> SQLiteDatabase {
        let thread = SQLiteThread(name: name)
        do {
            let handle = try await withTaskExecutorPreference(thread) { try SQLiteConnectionHandle(path: path) }
            return SQLiteDatabase(handle: handle, thread: thread, logger: logger)
        } catch {
            thread.shutdown()
            throw error
        }
    }

    /// Closes the connection (on its thread, after any work queued before) and ends the thread.
    public func close() async {
        let handle = self.handle
        await withTaskExecutorPreference(thread) { handle.close() }
        thread.shutdown()
    }

    /// Checkpoints the WAL from `checkpointer` (another connection to the same file, on its own
    /// thread) whenever a commit on this one leaves `threshold` pages or more in it — so no commit
    /// on this connection pays for a checkpoint. `PASSIVE`: it copies what it can without waiting
    /// for, or blocking, this connection's writes; one runs at a time.
    public func checkpoint(from checkpointer: SQLiteDatabase, threshold: Int32 = 1000) async {
        let pending = NIOLockedValueBox(false)
        let handle = self.handle, target = checkpointer.handle, thread = checkpointer.thread
        await withTaskExecutorPreference(self.thread) {
            handle.onWALGrowth(threshold: threshold) {
                guard pending.withLockedValue({ was in defer { was = true }; return !was }) else { return }
                Task(executorPreference: thread) {
                    try? target.run("PRAGMA wal_checkpoint(PASSIVE)", []) { _ in }
                    pending.withLockedValue { $0 = false }
                }
            }
        }
    }

    /// Runs `body` on this connection's thread: each statement it runs there costs no hop.
    public func pinned<R: Sendable>(_ body: @Sendable (SQLiteDatabase) async throws -> R) async throws -> R {
        if thread.isCurrent { return try await body(self) }
        return try await withTaskExecutorPreference(thread) { try await body(self) }
    }

    /// Starts (or, with `false`, stops and returns) counting each statement's full-table-scan
    /// steps, by SQL text — the test of docs/architecture.md "The store" that every statement on a
    /// publish's path is answered by an index.
    @discardableResult
    public func countFullScans(_ on: Bool) async -> [String: Int] {
        let handle = self.handle
        return await withTaskExecutorPreference(thread) {
            let counted = handle.fullScanSteps ?? [:]
            handle.fullScanSteps = on ? [:] : nil
            return counted
        }
    }

    public func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        let (sql, binds) = serialize(query)
        let values = try binds.map { try SQLiteValue.bound($0) }
        let handle = self.handle
        if thread.isCurrent {
            try handle.run(sql, values) { onRow($0) }
            return
        }
        try await withTaskExecutorPreference(thread) { try handle.run(sql, values) { onRow($0) } }
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
