import Foundation
import Logging
import PostgresKit

/// An empty PostgreSQL database of its own for one test, on the server `make test` started.
///
/// Every test gets a fresh database, so a test that lists "all webhooks" or searches the whole
/// store sees only its own rows — exactly as on SQLite, where each test has its own file. (A shared
/// database made two store-wide list assertions depend on what earlier tests had left behind.)
public struct PostgresScratchDatabase: Sendable {
    /// The URL to open the store with.
    public let url: String
    let name: String
    let server: PostgresConnection.Configuration

    /// Creates the database on the server of `baseURL` (any database on it; used only to connect).
    public static func create(baseURL: String) async throws -> PostgresScratchDatabase {
        let name = "lgt_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let server = try SQLPostgresConfiguration(url: baseURL).coreConfiguration
        try await run("CREATE DATABASE \(name)", on: server)
        guard var parts = URLComponents(string: baseURL) else { throw URLError(.badURL) }
        parts.path = "/" + name
        guard let url = parts.string else { throw URLError(.badURL) }
        return PostgresScratchDatabase(url: url, name: name, server: server)
    }

    /// Drops the database, closing whatever connection the test left open.
    public func drop() async {
        try? await Self.run("DROP DATABASE IF EXISTS \(name) WITH (FORCE)", on: server)
    }

    /// Ends every server process connected to this database (`pg_terminate_backend`: what a
    /// PostgreSQL restart or an administrator does to a client's open connections, 57P01).
    /// Returns how many it ended.
    @discardableResult
    public func terminateConnections() async throws -> Int {
        let logger = Logger(label: "test.postgres-scratch")
        let connection = try await PostgresConnection.connect(configuration: server, id: 2, logger: logger)
        defer { Task { try? await connection.close() } }
        let rows = try await connection.query(PostgresQuery(unsafeSQL:
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '\(name)' AND pid <> pg_backend_pid()"), logger: logger)
        for try await (count) in rows.decode(Int.self) { return count }
        return 0
    }

    /// The first column of each row of `sql` run in this database, as text (test inspection).
    public func strings(_ sql: String) async throws -> [String] {
        let logger = Logger(label: "test.postgres-scratch")
        var own = server
        own.database = name
        let connection = try await PostgresConnection.connect(configuration: own, id: 3, logger: logger)
        defer { Task { try? await connection.close() } }
        var out: [String] = []
        for try await value in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(String.self) { out.append(value) }
        return out
    }

    private static func run(_ sql: String, on server: PostgresConnection.Configuration) async throws {
        let logger = Logger(label: "test.postgres-scratch")
        let connection = try await PostgresConnection.connect(configuration: server, id: 1, logger: logger)
        do {
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }
}
