import LiveGateModel
import Foundation
import SQLKit

/// The `nodes` table: each node registers at start and writes a heartbeat every 2 s.
extension SQLChannelStore {
    public func registerNode(_ node: NodeRecord) async throws {
        try await write { db in
            try await db.raw("""
                INSERT INTO nodes (id, addresses, version, started_at, heartbeat_at)
                VALUES (\(bind: node.id), \(bind: Self.jsonStrings(node.addresses)), \(bind: node.version), \(bind: Timestamp.format(node.startedAt)),
                        \(bind: Timestamp.format(node.heartbeatAt)))
                ON CONFLICT (id) DO UPDATE SET addresses = excluded.addresses, version = excluded.version, started_at = excluded.started_at,
                  heartbeat_at = excluded.heartbeat_at
                """).run()
        }
    }

    /// False when the node has no row (removed): the caller registers again.
    public func heartbeatNode(id: String, at now: Date) async throws -> Bool {
        try await write { db in
            try await db.raw("UPDATE nodes SET heartbeat_at = \(bind: Timestamp.format(now)) WHERE id = \(bind: id) RETURNING id").first() != nil
        }
    }

    public func removeNode(id: String) async throws {
        try await write { db in try await db.raw("DELETE FROM nodes WHERE id = \(bind: id)").run() }
    }

    public func nodes() async throws -> [NodeRecord] {
        try await read { db in
            try await db.raw("SELECT id, addresses, version, started_at, heartbeat_at FROM nodes ORDER BY id").all().map { row in
                let addresses = try row.decode(column: "addresses", as: String.self)
                let parsed = (try? JSONDecoder().decode([String].self, from: Data(addresses.utf8))) ?? []
                return NodeRecord(id: try row.decode(column: "id", as: String.self), addresses: parsed,
                                  version: try row.decode(column: "version", as: String.self),
                                  startedAt: Timestamp.parse(try row.decode(column: "started_at", as: String.self)),
                                  heartbeatAt: Timestamp.parse(try row.decode(column: "heartbeat_at", as: String.self)))
            }
        }
    }
}
