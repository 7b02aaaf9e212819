import LiveGateModel
import Foundation
import Logging
import SQLKit

/// Stored user ids brought to the one form of `UserIdentifier` (docs/api.md, "User ids"), at
/// every start after the migrations: cheap when there is nothing to do (one scan of the
/// distinct ids), and a store written by an older version is rewritten once.
extension SQLChannelStore {
    /// Two stored ids that become one under the rule: the start stops, naming them, because
    /// merging two users' channels, limits and tokens is the operator's decision.
    public struct UserIdCollision: Error, CustomStringConvertible {
        public var groups: [[String]]
        public var description: String {
            "stored user ids that are one user once normalised (Unicode NFC, no whitespace at the ends): "
                + groups.map { "[" + $0.map { "\"\($0.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 ? String($0) : String(format: "\\u{%04X}", $0.value) }.joined())\"" }.joined(separator: ", ") + "]" }.joined(separator: "; ")
                + " — rename or merge them (UPDATE … SET user_id = …) before starting this version"
        }
    }

    /// The columns that hold one user id each.
    static let userIdColumns: [(table: String, column: String)] = [
        ("channels", "user_id"), ("api_tokens", "user_id"), ("user_limits", "user_id"), ("sessions", "user_id"), ("videos", "user_id"),
        ("events", "user_id"),
    ]

    /// Rewrites every stored user id to its canonical form; throws `UserIdCollision` (and
    /// changes nothing) when two distinct stored ids would become one.
    @discardableResult
    public func normalizeStoredUserIds(logger: Logger) async throws -> Int {
        let postgres = backend == .postgres
        return try await transaction { db in
            if postgres { try await db.raw("SELECT pg_advisory_xact_lock(7347002)").run() }
            // Keyed by bytes: Swift's String equality (and so a Set of Strings) treats canonically
            // equivalent forms as equal, which is the very difference being looked for.
            var stored: [[UInt8]: String] = [:]
            for (table, column) in Self.userIdColumns {
                for row in try await db.raw("SELECT DISTINCT \(unsafeRaw: column) AS u FROM \(unsafeRaw: table) WHERE \(unsafeRaw: column) IS NOT NULL").all() {
                    let id = try row.decode(column: "u", as: String.self)
                    stored[Array(id.utf8)] = id
                }
            }
            var webhookLists: [(id: String, ids: [String])] = []
            for row in try await db.raw("SELECT id, user_ids FROM webhooks").all() {
                let ids = Self.parseStrings(try row.decode(column: "user_ids", as: String.self))
                webhookLists.append((try row.decode(column: "id", as: String.self), ids))
                for id in ids { stored[Array(id.utf8)] = id }
            }
            func canonicalBytes(_ id: String) -> [UInt8] { Array(UserIdentifier.canonical(id).utf8) }
            let changed = stored.filter { canonicalBytes($0.value) != $0.key }
            guard !changed.isEmpty else { return 0 }
            var byCanonical: [[UInt8]: [String]] = [:]
            for id in stored.values { byCanonical[canonicalBytes(id), default: []].append(id) }
            let collisions = byCanonical.values.filter { $0.count > 1 }
                .map { $0.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) } }
                .sorted { Array($0[0].utf8).lexicographicallyPrecedes(Array($1[0].utf8)) }
            if !collisions.isEmpty { throw UserIdCollision(groups: collisions) }
            for id in changed.values {
                let canonical = UserIdentifier.canonical(id)
                for (table, column) in Self.userIdColumns {
                    try await db.raw("UPDATE \(unsafeRaw: table) SET \(unsafeRaw: column) = \(bind: canonical) WHERE \(unsafeRaw: column) = \(bind: id)").run()
                }
            }
            for (id, ids) in webhookLists where ids.contains(where: { changed[Array($0.utf8)] != nil }) {
                let rewritten = ids.map { changed[Array($0.utf8)] != nil ? UserIdentifier.canonical($0) : $0 }
                try await db.raw("UPDATE webhooks SET user_ids = \(bind: Self.jsonStrings(rewritten)) WHERE id = \(bind: id)").run()
            }
            logger.notice("stored user ids normalised (Unicode NFC, no whitespace at the ends)", metadata: ["count": "\(changed.count)"])
            return changed.count
        }
    }
}
