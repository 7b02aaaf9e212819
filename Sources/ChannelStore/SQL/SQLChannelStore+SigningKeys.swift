import LiveGateModel
import Foundation
import SQLKit

/// Playback signing keys (docs/api.md, "Playback").
extension SQLChannelStore {
    static func decodeSigningKey(_ row: any SQLRow) throws -> SigningKey {
        SigningKey(id: try row.decode(column: "id", as: String.self), secret: try row.decode(column: "secret", as: String.self),
                   createdAt: Timestamp.parse(try row.decode(column: "created_at", as: String.self)))
    }

    public func createSigningKey(_ key: SigningKey) async throws {
        try await transaction { db in
            try await db.raw("""
                INSERT INTO signing_keys (id, secret, created_at) VALUES (\(bind: key.id), \(bind: key.secret), \(bind: Timestamp.format(key.createdAt)))
                """).run()
        }
    }

    public func signingKey(id: String) async throws -> SigningKey? {
        try await read { db in try await db.raw("SELECT * FROM signing_keys WHERE id = \(bind: id)").first().map(Self.decodeSigningKey) }
    }

    /// Every key, newest first (there are few).
    public func signingKeys() async throws -> [SigningKey] {
        try await read { db in try await db.raw("SELECT * FROM signing_keys ORDER BY created_at DESC, id DESC").all().map(Self.decodeSigningKey) }
    }

    public func deleteSigningKey(id: String) async throws -> Bool {
        try await transaction { db in
            try await db.raw("DELETE FROM signing_keys WHERE id = \(bind: id) RETURNING id").first() != nil
        }
    }
}
