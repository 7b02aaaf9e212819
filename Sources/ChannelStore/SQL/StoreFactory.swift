import AsyncKit
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import SQLiteKit

/// Opens the configured store: SQLite at `DATA_DIR/livegate.sqlite` (WAL) by default, or
/// PostgreSQL for a `postgres://` URL; runs migrations before returning.
public enum StoreFactory {
    public struct UnsupportedURL: Error, CustomStringConvertible {
        public var url: String
        public var description: String { "database.url must be empty, sqlite://PATH or postgres://…; got a '\(url.prefix(12))…' URL" }
    }

    public static func open(url: String, dataDir: String, logger: Logger) async throws -> SQLChannelStore {
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
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        let db = connection.sql()
        // WAL: readers never block the writer; busy_timeout covers other processes (backups, sqlite3 CLI).
        try await db.raw("PRAGMA journal_mode=WAL").run()
        try await db.raw("PRAGMA busy_timeout=5000").run()
        try await db.raw("PRAGMA synchronous=NORMAL").run()
        do {
            try await SQLChannelStore(db: db, backend: .sqlite) {}.migrate(logger: logger)
        } catch {
            try? await connection.close().get()
            throw error
        }
        // Read connections, opened after the migrations created the schema; `query_only` makes
        // an accidental write on them fail loudly instead of contending with the writer.
        var readConnections: [SQLiteConnection] = []
        do {
            for _ in 0..<readerCount {
                let reader = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
                readConnections.append(reader)
                try await reader.sql().raw("PRAGMA busy_timeout=5000").run()
                try await reader.sql().raw("PRAGMA query_only=1").run()
            }
        } catch {
            for reader in readConnections { try? await reader.close().get() }
            try? await connection.close().get()
            throw error
        }
        let all = readConnections
        return SQLChannelStore(db: db, backend: .sqlite, readers: all.map { $0.sql() }) {
            for reader in all { try? await reader.close().get() }
            try? await connection.close().get()
        }
    }

    public static func openPostgres(url: String, logger: Logger) async throws -> SQLChannelStore {
        let configuration = try SQLPostgresConfiguration(url: url)
        let pool = EventLoopGroupConnectionPool(source: PostgresConnectionSource(sqlConfiguration: configuration),
                                                maxConnectionsPerEventLoop: 4, logger: logger, on: MultiThreadedEventLoopGroup.singleton)
        let box = PoolBox(pool)
        let store = SQLChannelStore(db: pool.database(logger: logger).sql(), backend: .postgres) { try? await box.pool.shutdownAsync() }
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
