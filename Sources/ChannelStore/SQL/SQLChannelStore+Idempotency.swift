import LiveGateModel
import Foundation
import SQLKit

/// Idempotency keys: a row per (token, key), claimed before the request runs (so two
/// concurrent retries cannot both create), completed with the answer, expired after 24 h.
extension SQLChannelStore {
    public func claimIdempotencyKey(_ r: IdempotentRequest, now: Date) async throws -> IdempotencyClaim {
        let expired = Timestamp.format(now.addingTimeInterval(-IdempotentRequest.retention))
        return try await transaction { db in
            try await db.raw("DELETE FROM idempotency_keys WHERE created_at < \(bind: expired)").run()
            if let row = try await db.raw("""
                SELECT method, path, body_hash, status, response FROM idempotency_keys WHERE token_id = \(bind: r.tokenId) AND idem_key = \(bind: r.key)
                """).first() {
                guard try row.decode(column: "method", as: String.self) == r.method, try row.decode(column: "path", as: String.self) == r.path
                else { return .mismatch(.operation) }
                guard try row.decode(column: "body_hash", as: String.self) == r.bodyHash else { return .mismatch(.body) }
                guard let status = try row.decode(column: "status", as: Int?.self), let response = try row.decode(column: "response", as: String?.self) else {
                    return .inProgress
                }
                return .replay(status: status, response: response)
            }
            // Two retries at once on PostgreSQL: the second waits for the first's row, then
            // inserts nothing — it is told the first is in progress.
            let inserted = try await db.raw("""
                INSERT INTO idempotency_keys (token_id, idem_key, method, path, body_hash, created_at)
                VALUES (\(bind: r.tokenId), \(bind: r.key), \(bind: r.method), \(bind: r.path), \(bind: r.bodyHash), \(bind: Timestamp.format(now)))
                ON CONFLICT DO NOTHING RETURNING token_id
                """).first()
            return inserted == nil ? .inProgress : .claimed
        }
    }

    public func completeIdempotencyKey(tokenId: String, key: String, status: Int, response: String) async throws {
        try await transaction { db in
            try await db.raw("""
                UPDATE idempotency_keys SET status = \(bind: status), response = \(bind: response) WHERE token_id = \(bind: tokenId) AND idem_key = \(bind: key)
                """).run()
        }
    }

    public func releaseIdempotencyKey(tokenId: String, key: String) async throws {
        try await transaction { db in
            try await db.raw("DELETE FROM idempotency_keys WHERE token_id = \(bind: tokenId) AND idem_key = \(bind: key) AND status IS NULL").run()
        }
    }
}
