import LiveGateModel
import Foundation
import SQLKit

/// API tokens (docs/contract.md §4): hashed secrets, scopes, an optional bound user, last use.
extension SQLChannelStore {
    static func decodeToken(_ row: any SQLRow) throws -> APIToken {
        APIToken(id: try row.decode(column: "id", as: String.self), secretHash: try row.decode(column: "secret_hash", as: String.self),
                 scopes: parseStrings(try row.decode(column: "scopes", as: String.self)), userId: try row.decode(column: "user_id", as: String?.self),
                 origin: APIToken.Origin(rawValue: try row.decode(column: "origin", as: String.self)) ?? .legacy,
                 createdAt: Timestamp.parse(try row.decode(column: "created_at", as: String.self)),
                 lastUsedAt: try row.decode(column: "last_used_at", as: String?.self).map(Timestamp.parse),
                 name: try row.decode(column: "name", as: String?.self),
                 expiresAt: try row.decode(column: "expires_at", as: String?.self).map(Timestamp.parse))
    }

    public func tokenCount() async throws -> Int {
        try await read { db in try await db.raw("SELECT COUNT(*) AS n FROM api_tokens").first()?.decode(column: "n", as: Int.self) ?? 0 }
    }

    /// Creates the token or replaces the one with its id, in one statement: two nodes started at
    /// once with the same configured token both succeed (a delete then insert raced: one of
    /// them failed on the primary key).
    public func saveToken(_ token: APIToken) async throws {
        try await transaction { db in
            try await db.raw("""
                INSERT INTO api_tokens (id, secret_hash, created_at, scopes, user_id, origin, name, expires_at)
                VALUES (\(bind: token.id), \(bind: token.secretHash), \(bind: Timestamp.format(token.createdAt)), \(bind: Self.jsonStrings(token.scopes)),
                  \(bind: token.userId), \(bind: token.origin.rawValue), \(bind: token.name), \(bind: token.expiresAt.map(Timestamp.format)))
                ON CONFLICT (id) DO UPDATE SET secret_hash = excluded.secret_hash, created_at = excluded.created_at, scopes = excluded.scopes,
                  user_id = excluded.user_id, origin = excluded.origin, name = excluded.name, expires_at = excluded.expires_at
                """).run()
        }
    }

    public func token(id: String) async throws -> APIToken? {
        try await read { db in try await db.raw("SELECT * FROM api_tokens WHERE id = \(bind: id)").first().map(Self.decodeToken) }
    }

    public func listTokens(limit: Int, cursor: String?, descending: Bool) async throws -> Page<APIToken> {
        let offset = try Cursor.decode(cursor)
        let limit = max(1, min(limit, 100))
        let rows = try await read { db in
            try await db.raw("""
                SELECT * FROM api_tokens ORDER BY \(unsafeRaw: descending ? "created_at DESC, id DESC" : "created_at, id") LIMIT \(unsafeRaw: String(limit + 1)) OFFSET \(unsafeRaw: String(offset))
                """).all()
        }
        let tokens = try rows.map(Self.decodeToken)
        return Page(items: Array(tokens.prefix(limit)), nextCursor: tokens.count > limit ? Cursor.encode(offset + Int64(limit)) : nil)
    }

    public func deleteToken(id: String) async throws -> Bool {
        try await transaction { db in
            let exists = try await db.raw("SELECT id FROM api_tokens WHERE id = \(bind: id)").first() != nil
            if exists { try await db.raw("DELETE FROM api_tokens WHERE id = \(bind: id)").run() }
            return exists
        }
    }

    public func deleteTokens(origin: APIToken.Origin, keeping id: String) async throws -> [String] {
        try await transaction { db in
            let ids = try await db.raw("SELECT id FROM api_tokens WHERE origin = \(bind: origin.rawValue) AND id <> \(bind: id)").all()
                .map { try $0.decode(column: "id", as: String.self) }
            try await db.raw("DELETE FROM api_tokens WHERE origin = \(bind: origin.rawValue) AND id <> \(bind: id)").run()
            return ids
        }
    }

    public func touchToken(id: String, at: Date) async throws {
        try await transaction { db in
            try await db.raw("UPDATE api_tokens SET last_used_at = \(bind: Timestamp.format(at)) WHERE id = \(bind: id)").run()
        }
    }
}
