import LiveGateModel
import Foundation
import SQLKit

/// The `nodes` table: each node registers at start and writes a heartbeat every 2 s.
extension SQLChannelStore {
    /// Registers (or re-registers) a node, with `node.joined` in the same transaction.
    public func registerNode(_ node: NodeRecord) async throws {
        try await transaction { [self] db in
            try await db.raw("DELETE FROM departed_nodes WHERE id = \(bind: node.id)").run()
            try await db.raw("""
                INSERT INTO nodes (id, addresses, version, started_at, heartbeat_at, lost_at, advertise_url)
                VALUES (\(bind: node.id), \(bind: Self.jsonStrings(node.addresses)), \(bind: node.version), \(bind: Timestamp.format(node.startedAt)),
                        \(bind: Timestamp.format(node.heartbeatAt)), NULL, \(bind: node.advertiseUrl))
                ON CONFLICT (id) DO UPDATE SET addresses = excluded.addresses, version = excluded.version, started_at = excluded.started_at,
                  heartbeat_at = excluded.heartbeat_at, lost_at = NULL, advertise_url = excluded.advertise_url
                """).run()
            _ = try await insertEvent(db, Self.nodeEvent(.nodeJoined, node, at: node.heartbeatAt, rejoined: false), now: node.heartbeatAt)
        }
    }

    /// False when the node has no row (removed): the caller registers again. A node that had
    /// been taken for lost and beats again is back: `node.joined` (`rejoined`).
    public func heartbeatNode(id: String, at now: Date) async throws -> Bool {
        try await transaction { [self] db in
            guard let before = try await db.raw("SELECT lost_at FROM nodes WHERE id = \(bind: id)").first() else { return false }
            let wasLost = try before.decode(column: "lost_at", as: String?.self) != nil
            guard let row = try await db.raw("""
                UPDATE nodes SET heartbeat_at = \(bind: Timestamp.format(now)), lost_at = NULL WHERE id = \(bind: id)
                RETURNING id, addresses, version, started_at, heartbeat_at, advertise_url
                """).first() else { return false }
            if wasLost { _ = try await insertEvent(db, Self.nodeEvent(.nodeJoined, try Self.decodeNode(row), at: now, rejoined: true), now: now) }
            return true
        }
    }

    /// Takes every node whose heartbeat is older than `lostAfter` for lost, once: `node.lost`
    /// in the same transaction as the mark, so of several nodes sweeping one sends it.
    public func claimLostNodes(now: Date, lostAfter: TimeInterval = NodeRecord.lostAfter) async throws -> [NodeRecord] {
        let cutoff = Timestamp.format(now.addingTimeInterval(-lostAfter))
        let any = try await read { db in
            try await db.raw("SELECT id FROM nodes WHERE heartbeat_at < \(bind: cutoff) AND lost_at IS NULL LIMIT 1").first() != nil
        }
        guard any else { return [] }
        return try await transaction { [self] db in
            let rows = try await db.raw("""
                UPDATE nodes SET lost_at = \(bind: Timestamp.format(now)) WHERE heartbeat_at < \(bind: cutoff) AND lost_at IS NULL
                RETURNING id, addresses, version, started_at, heartbeat_at, advertise_url
                """).all()
            var lost: [NodeRecord] = []
            for row in rows {
                let node = try Self.decodeNode(row)
                _ = try await insertEvent(db, Self.nodeEvent(.nodeLost, node, at: now, rejoined: nil), now: now)
                lost.append(node)
            }
            return lost
        }
    }

    static func nodeEvent(_ type: EventType, _ node: NodeRecord, at: Date, rejoined: Bool?) -> NewEvent {
        var data: [String: JSONValue] = ["node": .object([
            "id": .string(node.id), "addresses": .array(node.addresses.map { .string($0) }), "version": .string(node.version),
            "startedAt": .string(Timestamp.format(node.startedAt)), "heartbeatAt": .string(Timestamp.format(node.heartbeatAt)),
        ])]
        if let rejoined { data["rejoined"] = .bool(rejoined) }
        return .make(type: type.rawValue, channelId: nil, userId: nil, at: at, data: .object(data))
    }

    static func decodeNode(_ row: any SQLRow) throws -> NodeRecord {
        let addresses = try row.decode(column: "addresses", as: String.self)
        let parsed = (try? JSONDecoder().decode([String].self, from: Data(addresses.utf8))) ?? []
        return NodeRecord(id: try row.decode(column: "id", as: String.self), addresses: parsed,
                          version: try row.decode(column: "version", as: String.self),
                          startedAt: Timestamp.parse(try row.decode(column: "started_at", as: String.self)),
                          heartbeatAt: Timestamp.parse(try row.decode(column: "heartbeat_at", as: String.self)),
                          advertiseUrl: try row.decode(column: "advertise_url", as: String?.self))
    }

    /// A clean stop: the node leaves the list, and when it left is kept (its recordings' files
    /// count as available until `cluster.nodeGoneAfterHours` after that).
    public func removeNode(id: String) async throws {
        let now = Timestamp.format(Date())
        try await transaction { db in
            try await db.raw("DELETE FROM nodes WHERE id = \(bind: id)").run()
            try await db.raw("""
                INSERT INTO departed_nodes (id, departed_at, removed) VALUES (\(bind: id), \(bind: now), 0)
                ON CONFLICT (id) DO UPDATE SET departed_at = excluded.departed_at
                """).run()
        }
    }

    /// The operator removes a node for good (`DELETE /v1/system/nodes/{id}`): false if it was
    /// not known at all. Its recordings' files are unavailable from now on.
    public func forgetNode(id: String, now: Date) async throws -> Bool {
        try await transaction { db in
            let listed = try await db.raw("DELETE FROM nodes WHERE id = \(bind: id) RETURNING id").first() != nil
            let departed = try await db.raw("SELECT id FROM departed_nodes WHERE id = \(bind: id)").first() != nil
            let recorded = try await db.raw("SELECT id FROM videos WHERE node_id = \(bind: id) LIMIT 1").first() != nil
            guard listed || departed || recorded else { return false }
            try await db.raw("""
                INSERT INTO departed_nodes (id, departed_at, removed) VALUES (\(bind: id), \(bind: Timestamp.format(now)), 1)
                ON CONFLICT (id) DO UPDATE SET removed = 1
                """).run()
            return true
        }
    }

    /// Nodes that left the list: when, and whether removed for good.
    public func departedNodes() async throws -> [String: (departedAt: Date, removed: Bool)] {
        try await read { db in
            var out: [String: (departedAt: Date, removed: Bool)] = [:]
            for row in try await db.raw("SELECT id, departed_at, removed FROM departed_nodes").all() {
                out[try row.decode(column: "id", as: String.self)] = (Timestamp.parse(try row.decode(column: "departed_at", as: String.self)),
                                                                      try row.decode(column: "removed", as: Int.self) != 0)
            }
            return out
        }
    }

    public func nodes() async throws -> [NodeRecord] {
        try await read { db in
            try await db.raw("SELECT id, addresses, version, started_at, heartbeat_at, advertise_url FROM nodes ORDER BY id").all().map(Self.decodeNode)
        }
    }
}
