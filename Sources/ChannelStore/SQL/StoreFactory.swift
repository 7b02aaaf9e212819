import LiveGateModel
import AsyncKit
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit

/// Opens the configured store: SQLite at `DATA_DIR/livegate.sqlite` (WAL) by default, or
/// PostgreSQL for a `postgres://` URL; runs migrations before returning.
public enum StoreFactory {
    public struct UnsupportedURL: Error, CustomStringConvertible {
        public var url: String
        public var description: String { "database.url: \(StoreFactory.problem(url: url) ?? "unsupported URL")" }
    }

    /// Why `url` cannot name a store, or nil when it can. Checked by `check-config` and before
    /// `open`, so a wrong URL is a configuration error with a reason, never a driver's
    /// `NSURLErrorDomain Code=-1000 "(null)"`. The URL is never echoed whole: it may hold a password.
    public static func problem(url: String) -> String? {
        if url.isEmpty { return nil }
        let expected = "must be empty (SQLite in dataDir), sqlite://PATH or postgres://USER:PASSWORD@HOST[:PORT]/DATABASE"
        guard let schemeEnd = url.range(of: "://") else { return "\(expected); got something that is not a URL" }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        switch scheme {
        case "sqlite":
            return url[schemeEnd.upperBound...].isEmpty ? "sqlite:// needs a file path (sqlite:///var/lib/livegate/livegate.sqlite)" : nil
        case "postgres", "postgresql":
            guard let components = URLComponents(string: url) else { return "not a valid postgres:// URL (check the percent-encoding of the password)" }
            guard let host = components.host, !host.isEmpty else { return "postgres:// URL has no host (postgres://USER:PASSWORD@HOST[:PORT]/DATABASE)" }
            guard let user = components.user, !user.isEmpty else { return "postgres:// URL has no user name (postgres://USER:PASSWORD@HOST[:PORT]/DATABASE)" }
            if let port = components.port, !(1...65535).contains(port) { return "postgres:// URL port must be between 1 and 65535" }
            if components.path.count <= 1 { return "postgres:// URL names no database (…/DATABASE)" }
            if let mode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value,
               !["disable", "prefer", "require", "verify-ca", "verify-full"].contains(mode) {
                return "sslmode must be disable, prefer, require, verify-ca or verify-full"
            }
            do {
                _ = try SQLPostgresConfiguration(url: url)
            } catch {
                return "not a usable postgres:// URL: \(error)"
            }
            return nil
        default:
            return "\(expected); got a '\(scheme.prefix(16))' URL"
        }
    }

    /// `logger` is given to the database drivers capped at `info`: PostgresNIO and SQLKit log
    /// every statement with its binds at `debug`/`trace` — full stream keys, `whsec_…` webhook
    /// secrets, token hashes (the SQLite layer never logs statements). No log level of the gateway may print those.
    public static func open(url: String, dataDir: String, logger: Logger) async throws -> SQLChannelStore {
        var logger = logger
        if logger.logLevel < .info { logger.logLevel = .info }
        if problem(url: url) != nil { throw UnsupportedURL(url: url) }
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            return try await openPostgres(url: url, logger: logger)
        }
        var path = "\(dataDir)/livegate.sqlite"
        if url.hasPrefix("sqlite://") { path = String(url.dropFirst("sqlite://".count)) }
        else if !url.isEmpty { throw UnsupportedURL(url: url) }
        return try await openSQLite(path: path, logger: logger)
    }

    /// Read connections next to the one writer (WAL: readers do not block it, nor it them).
    static let readerCount = 2

    public static func openSQLite(path: String, logger: Logger) async throws -> SQLChannelStore {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        let db = try SQLiteDatabase.open(path: path, logger: logger)
        // WAL: readers never block the writer; busy_timeout covers other processes (backups, sqlite3 CLI).
        do {
            try await db.raw("PRAGMA journal_mode=WAL").run()
            try await db.raw("PRAGMA busy_timeout=5000").run()
            try await db.raw("PRAGMA synchronous=NORMAL").run()
            try await SQLChannelStore(db: db, backend: .sqlite) {}.migrate(logger: logger)
        } catch {
            db.close()
            throw error
        }
        // Read connections, opened after the migrations created the schema; `query_only` makes
        // an accidental write on them fail loudly instead of contending with the writer.
        var readers: [SQLiteDatabase] = []
        do {
            for _ in 0..<readerCount {
                let reader = try SQLiteDatabase.open(path: path, logger: logger)
                readers.append(reader)
                try await reader.raw("PRAGMA busy_timeout=5000").run()
                try await reader.raw("PRAGMA query_only=1").run()
            }
        } catch {
            for reader in readers { reader.close() }
            db.close()
            throw error
        }
        // Checkpoints from a connection of their own (`SQLiteDatabase.checkpoint(from:)`), not
        // inside whichever commit crosses the WAL's threshold.
        let checkpointer: SQLiteDatabase
        do {
            checkpointer = try SQLiteDatabase.open(path: path, logger: logger)
            try await checkpointer.raw("PRAGMA busy_timeout=5000").run()
            db.checkpoint(from: checkpointer)
        } catch {
            for reader in readers { reader.close() }
            db.close()
            throw error
        }
        let all = readers
        return SQLChannelStore(db: db, backend: .sqlite, readers: all) {
            for reader in all { reader.close() }
            db.close()
            checkpointer.close()
        }
    }

    /// What `check-config` learns from the database without changing it: a PostgreSQL URL is
    /// connected to and authenticated (`SELECT 1`, no migration). `.refused`: the server answered
    /// and said no (wrong password, no such database) — `serve` would exit 78; `.unreachable`:
    /// nobody answered in `timeout` — `serve` would keep trying for `database.connectTimeoutSec`.
    public enum ConnectionCheck: Sendable, Equatable {
        case ok
        case notChecked
        case refused(String)
        case unreachable(String)
    }

    public static func checkConnection(url: String, timeout: TimeAmount = .seconds(5)) async -> ConnectionCheck {
        guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://"), problem(url: url) == nil,
              let configuration = try? SQLPostgresConfiguration(url: url) else { return .notChecked }
        var quiet = Logger(label: "livegate.check-config")
        quiet.logLevel = .critical
        var core = configuration.coreConfiguration
        core.options.connectTimeout = timeout
        do {
            let connection = try await PostgresConnection.connect(configuration: core, id: 0, logger: quiet)
            defer { Task { try? await connection.close() } }
            _ = try await connection.query("SELECT 1", logger: quiet)
            return .ok
        } catch {
            return isPermanent(error) ? .refused(describe(error)) : .unreachable(describe(error))
        }
    }

    public static func openPostgres(url: String, logger: Logger) async throws -> SQLChannelStore {
        let configuration = try SQLPostgresConfiguration(url: url)
        // One probe connection first, with a quiet logger: an unreachable server is one error
        // for the caller (who retries and logs once per attempt), not a pool error line as well.
        var quiet = logger
        quiet.logLevel = .critical
        let probe = try await PostgresConnection.connect(configuration: configuration.coreConfiguration, id: 0, logger: quiet)
        try? await probe.close()
        let perLoop = 4
        let group = MultiThreadedEventLoopGroup.singleton
        let pool = EventLoopGroupConnectionPool(source: PostgresConnectionSource(sqlConfiguration: configuration),
                                                maxConnectionsPerEventLoop: perLoop, logger: logger, on: group)
        let box = PoolBox(pool)
        let loops = group.makeIterator().reduce(0) { n, _ in n + 1 }
        let store = SQLChannelStore(db: pool.database(logger: logger).sql(), backend: .postgres, poolCapacity: perLoop * loops) {
            try? await box.pool.shutdownAsync()
        }
        do {
            try await store.migrate(logger: logger)
        } catch {
            await store.close()
            throw error
        }
        return store
    }
}

/// AsyncKit's pool guards its state with an internal lock but predates `Sendable`; this box
/// carries it into the store's close closure.
private final class PoolBox: @unchecked Sendable {
    let pool: EventLoopGroupConnectionPool<PostgresConnectionSource>
    init(_ pool: EventLoopGroupConnectionPool<PostgresConnectionSource>) { self.pool = pool }
}
