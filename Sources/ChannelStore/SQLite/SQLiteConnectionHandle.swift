import CSQLite3
import Foundation
import NIOConcurrencyHelpers

/// A SQLite error: the result code and the library's own message ("UNIQUE constraint failed:
/// channels.stream_key", "cannot start a transaction within a transaction").
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let message: String
    public var description: String { "SQLite error \(code): \(message)" }
}

/// One open `sqlite3` connection with its prepared statements. Any thread may call it, one at a
/// time: `lock` guards the connection and the statement cache (SQLite's "multi-thread" mode,
/// opened `NOMUTEX`: a connection may move between threads, never be used by two at once). The
/// store already runs one operation per connection at a time, so the lock is uncontended.
final class SQLiteConnectionHandle: @unchecked Sendable {
    private let lock = NIOLock()
    private var db: OpaquePointer?
    /// Prepared statements by SQL text. The store's statements are a fixed set of texts with
    /// binds, so they are parsed once; the cache is emptied whole if it ever grows past
    /// `cacheLimit` (ad-hoc statements, a test's SQL).
    private var statements: [String: OpaquePointer] = [:]
    static let cacheLimit = 512
    /// When set (tests), each statement's full-table-scan steps are added up here by SQL text
    /// (`SQLITE_STMTSTATUS_FULLSCAN_STEP`): a statement that reads a whole table where an index
    /// should answer shows up whatever the machine's speed.
    var fullScanSteps: [String: Int]? {
        get { lock.withLock { scans } }
        set { lock.withLock { scans = newValue } }
    }
    private var scans: [String: Int]?
    /// Likewise each statement's virtual-machine steps (`SQLITE_STMTSTATUS_VM_STEP`): the work a
    /// statement did, counted the same on any machine — how it grows with the rows it touches
    /// shows a plan gone quadratic without timing anything.
    var vmSteps: [String: Int]? {
        get { lock.withLock { steps } }
        set { lock.withLock { steps = newValue } }
    }
    private var steps: [String: Int]?

    init(path: String) throws {
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(handle)
            throw SQLiteError(code: rc, message: "cannot open \(path): \(message)")
        }
        db = handle
    }

    deinit { closeLocked() }

    /// What the WAL hook calls: held here so the C callback's context pointer stays valid.
    private final class WALHook {
        let threshold: Int32
        let action: @Sendable () -> Void
        let settle: @Sendable () -> Void
        init(threshold: Int32, action: @escaping @Sendable () -> Void, settle: @escaping @Sendable () -> Void) {
            self.threshold = threshold
            self.action = action
            self.settle = settle
        }
    }
    private var walHook: WALHook?

    /// Replaces SQLite's automatic checkpoint (which runs inside the commit that crosses 1,000
    /// WAL pages, with its fsyncs, on the writer — a publisher's session commit took 5 ms more
    /// then) with `action`, called after any commit that leaves `threshold` pages or more in the
    /// WAL: it is to checkpoint from another connection, on another thread. (The callback runs
    /// inside the commit, under `lock`.)
    ///
    /// The backstop: writes that never pause leave those checkpoints behind — the WAL restarts
    /// only once one has copied every frame, and each copies only the frames there were when it
    /// began — so past four times the threshold the commit checkpoints itself instead, as
    /// SQLite's own hook would have. It first waits for the other connection's checkpoint in
    /// flight (`settle`): that one holds the checkpoint lock, and a checkpoint asked for meanwhile
    /// is refused at once (`SQLITE_BUSY`; no busy handler is called for that lock) — on a busy
    /// machine the writer's checkpoints were refused one after another and the WAL grew past
    /// 40 MB. Waiting bounds the WAL at four times the threshold and one commit, whatever the load.
    func onWALGrowth(threshold: Int32, _ action: @escaping @Sendable () -> Void, settle: @escaping @Sendable () -> Void) {
        lock.lock()
        defer { lock.unlock() }
        guard let db else { return }
        let hook = WALHook(threshold: threshold, action: action, settle: settle)
        walHook = hook
        sqlite3_wal_hook(db, { context, db, name, pages in
            guard let context else { return SQLITE_OK }
            let hook = Unmanaged<WALHook>.fromOpaque(context).takeUnretainedValue()
            if pages >= 4 * hook.threshold {
                hook.settle()
                sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            } else if pages >= hook.threshold {
                hook.action()
            }
            return SQLITE_OK
        }, Unmanaged.passUnretained(hook).toOpaque())
    }

    var isOpen: Bool { lock.withLock { db != nil } }

    func close() { lock.withLock { closeLocked() } }

    private func closeLocked() {
        for statement in statements.values { sqlite3_finalize(statement) }
        statements.removeAll()
        if let db {
            if walHook != nil { sqlite3_wal_hook(db, nil, nil) }
            sqlite3_close_v2(db)
        }
        walHook = nil
        db = nil
    }

    /// Runs one statement to its end, handing each row to `onRow` as it is stepped.
    func run(_ sql: String, _ binds: [SQLiteValue], _ onRow: (SQLiteRow) -> Void) throws {
        lock.lock()
        defer { lock.unlock() }
        guard let db else { throw SQLiteError(code: SQLITE_MISUSE, message: "the connection is closed") }
        let statement = try prepared(sql, db)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (i, value) in binds.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(statement, index)
            case .integer(let n): rc = sqlite3_bind_int64(statement, index, n)
            case .real(let d): rc = sqlite3_bind_double(statement, index, d)
            case .text(var s):
                rc = s.withUTF8 { livegate_sqlite3_bind_text(statement, index, UnsafeRawPointer($0.baseAddress).map { $0.assumingMemoryBound(to: CChar.self) }, Int32($0.count)) }
            case .blob(let bytes):
                rc = bytes.withUnsafeBytes { livegate_sqlite3_bind_blob(statement, index, $0.baseAddress, Int32($0.count)) }
            }
            guard rc == SQLITE_OK else { throw error(rc, db) }
        }
        var columns: SQLiteRow.Columns?
        defer {
            if scans != nil {
                scans![sql, default: 0] += Int(sqlite3_stmt_status(statement, SQLITE_STMTSTATUS_FULLSCAN_STEP, 1))
            }
            if steps != nil {
                steps![sql, default: 0] += Int(sqlite3_stmt_status(statement, SQLITE_STMTSTATUS_VM_STEP, 1))
            }
        }
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw error(rc, db) }
            let count = sqlite3_column_count(statement)
            let names: SQLiteRow.Columns
            if let columns { names = columns } else {
                names = SQLiteRow.Columns((0..<count).map { String(cString: sqlite3_column_name(statement, $0)) })
                columns = names
            }
            var values: [SQLiteValue] = []
            values.reserveCapacity(Int(count))
            for i in 0..<count { values.append(Self.column(statement, i)) }
            onRow(SQLiteRow(columns: names, values: values))
        }
    }

    private static func column(_ statement: OpaquePointer, _ i: Int32) -> SQLiteValue {
        switch sqlite3_column_type(statement, i) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement, i))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(statement, i))
        case SQLITE_TEXT:
            guard let text = sqlite3_column_text(statement, i) else { return .text("") }
            let count = Int(sqlite3_column_bytes(statement, i))
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(statement, i))
            guard count > 0, let bytes = sqlite3_column_blob(statement, i) else { return .blob([]) }
            return .blob([UInt8](UnsafeRawBufferPointer(start: bytes, count: count)))
        default: return .null
        }
    }

    private func prepared(_ sql: String, _ db: OpaquePointer) throws -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        if statements.count >= Self.cacheLimit {
            for statement in statements.values { sqlite3_finalize(statement) }
            statements.removeAll()
        }
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw error(rc, db) }
        statements[sql] = statement
        return statement
    }

    private func error(_ code: Int32, _ db: OpaquePointer) -> SQLiteError {
        SQLiteError(code: code, message: String(cString: sqlite3_errmsg(db)))
    }
}
