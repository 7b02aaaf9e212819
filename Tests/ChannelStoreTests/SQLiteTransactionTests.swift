@testable import ChannelStore
import Foundation
import LiveGateModel
import Logging
import SQLKit
import XCTest

/// SQLite has one writing connection: a transaction left open on it would fail every later
/// write with "cannot start a transaction within a transaction" (seen once in CI, after a
/// webhook dispatcher was cancelled mid-write).
final class SQLiteTransactionTests: XCTestCase {
    func open() async throws -> (SQLChannelStore, String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("livegate-tx-\(UUID())").path
        return (try await StoreFactory.open(url: "", dataDir: dir, logger: Logger(label: "test")), dir)
    }

    func testAStaleOpenTransactionDoesNotPoisonLaterWrites() async throws {
        let (store, dir) = try await open()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Leave a transaction open on the writer, as a skipped rollback would.
        try await store.write { db in try await db.raw("BEGIN IMMEDIATE").run() }
        let channel = try await store.createChannel(id: "ch_after", streamKey: "KEY_after_0123456789",
                                                    fields: ChannelFields(userId: "u1", name: "after"), now: Date())
        XCTAssertEqual(channel.id, "ch_after")
        // Committed, not swallowed by the stale transaction: a fresh store on the file sees it.
        await store.close()
        let (reopened, _) = (try await StoreFactory.open(url: "", dataDir: dir, logger: Logger(label: "test")), dir)
        let read = try await reopened.channel(id: "ch_after")
        XCTAssertEqual(read?.name, "after")
        await reopened.close()
    }

    func testACancelledCallerStillRollsBack() async throws {
        let (store, dir) = try await open()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for round in 0..<20 {
            let task = Task {
                try await store.transaction { db in
                    try await db.raw("INSERT INTO schema_migrations (version, name, applied_at) VALUES (\(bind: 10_000 + round), 'x', 'y')").run()
                    try await Task.sleep(for: .milliseconds(50))
                    try await db.raw("SELECT 1").run()
                }
            }
            try await Task.sleep(for: .milliseconds(10))
            task.cancel()
            _ = await task.result
            // Every write after a cancelled one works, and the cancelled insert was undone.
            let rows = try await store.write { db in
                try await db.raw("SELECT version FROM schema_migrations WHERE version = \(bind: 10_000 + round)").all()
            }
            XCTAssertEqual(rows.count, 0, "round \(round)")
        }
        await store.close()
    }
}
