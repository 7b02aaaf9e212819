@testable import ChannelStore
import Foundation
import LiveGateModel
import Logging
import SQLKit
import TestSupport
import XCTest

/// The SQLite layer under the store (`Sources/ChannelStore/SQLite/`): values in and out as
/// SQLiteKit gave them, SQLite's own error messages, one connection safe from many tasks,
/// every statement of a publish answered by an index, checkpoints off the writer — and a file
/// another SQLite client (Python's `sqlite3` module) reads the same.
final class SQLiteLayerTests: XCTestCase {
    func scratch() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("livegate-sqlite-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    func testValuesRoundTripAndReadAsSQLiteKitReadThem() async throws {
        let db = try SQLiteDatabase.open(path: try scratch() + "/v.sqlite", logger: Logger(label: "test"))
        try await db.raw("CREATE TABLE v (t TEXT, i INTEGER, r REAL, b BLOB, n TEXT)").run()
        let text = "clé \u{1F3A5} 'quoted' \"double\" \\ ; -- not a comment"
        let optionalAbsent: String? = nil
        try await db.raw("""
            INSERT INTO v (t, i, r, b, n) VALUES (\(bind: text), \(bind: Int64.max), \(bind: 0.1), \(bind: Data([0, 1, 255])), \(bind: optionalAbsent))
            """).run()
        let row = try XCTUnwrapAsync(try await db.raw("SELECT t, i, r, b, n, i AS again FROM v").first())
        XCTAssertEqual(row.allColumns, ["t", "i", "r", "b", "n", "again"])
        XCTAssertEqual(try row.decode(column: "t", as: String.self), text)
        XCTAssertEqual(try row.decode(column: "i", as: Int.self), Int.max)
        XCTAssertEqual(try row.decode(column: "r", as: Double.self), 0.1)
        XCTAssertEqual(try row.decode(column: "n", as: String?.self), nil)
        XCTAssertEqual(try row.decode(column: "i", as: Int?.self), Int.max)
        XCTAssertEqual(try row.decode(column: "i", as: Double.self), Double(Int.max), "a double from an INTEGER")
        XCTAssertEqual(try row.decode(column: "i", as: String.self), String(Int64.max), "a string from a number, as SQLiteKit did")
        XCTAssertEqual(try row.decode(column: "b", as: Data.self), Data([0, 1, 255]))
        XCTAssertTrue(try row.decodeNil(column: "n"))
        XCTAssertFalse(row.contains(column: "missing"))
        XCTAssertThrowsError(try row.decode(column: "n", as: String.self), "NULL into a non-optional")
        XCTAssertThrowsError(try row.decode(column: "t", as: Int.self), "text is no integer")
        XCTAssertThrowsError(try row.decode(column: "missing", as: String.self))
        // Booleans as 0/1 both ways; a raw-value enum through the generic decoder.
        enum Colour: String, Codable { case red }
        let flag = try XCTUnwrapAsync(try await db.raw("SELECT \(bind: true) AS yes, \(bind: false) AS no, \(bind: Colour.red) AS c").first())
        XCTAssertEqual(try flag.decode(column: "yes", as: Bool.self), true)
        XCTAssertEqual(try flag.decode(column: "no", as: Bool.self), false)
        XCTAssertEqual(try flag.decode(column: "c", as: Colour.self), .red)
        // Many rows in order; a statement run again with other binds (a cached statement is reset).
        for n in 0..<50 { try await db.raw("INSERT INTO v (i) VALUES (\(bind: n))").run() }
        let counted = try await db.raw("SELECT i FROM v WHERE i < \(bind: 50) ORDER BY i").all().map { try $0.decode(column: "i", as: Int.self) }
        XCTAssertEqual(counted, Array(0..<50))
        let three = try await db.raw("SELECT i FROM v WHERE i < \(bind: 3) ORDER BY i").all()
        XCTAssertEqual(three.count, 3)
        db.close()
    }

    func testErrorsCarrySQLitesMessageAndLeaveTheConnectionUsable() async throws {
        let db = try SQLiteDatabase.open(path: try scratch() + "/e.sqlite", logger: Logger(label: "test"))
        try await db.raw("CREATE TABLE u (k TEXT PRIMARY KEY)").run()
        try await db.raw("INSERT INTO u (k) VALUES (\(bind: "a"))").run()
        do {
            try await db.raw("INSERT INTO u (k) VALUES (\(bind: "a"))").run()
            XCTFail("a duplicate key was accepted")
        } catch {
            XCTAssertTrue("\(error)".contains("UNIQUE constraint failed: u.k"), "\(error)")
        }
        do {
            try await db.raw("SELEKT 1").run()
            XCTFail("bad SQL was accepted")
        } catch {
            XCTAssertTrue("\(error)".contains("syntax error"), "\(error)")
        }
        try await db.raw("INSERT INTO u (k) VALUES (\(bind: "b"))").run()
        let keys = try await db.raw("SELECT k FROM u ORDER BY k").all().map { try $0.decode(column: "k", as: String.self) }
        XCTAssertEqual(keys, ["a", "b"])
        db.close()
        do {
            try await db.raw("SELECT 1").run()
            XCTFail("a closed connection answered")
        } catch {
            XCTAssertTrue("\(error)".contains("closed"), "\(error)")
        }
    }

    /// Statements run inline in the calling task, so one connection may be reached from many
    /// threads: its lock keeps them one at a time. Forty tasks hammer one connection directly
    /// (no store lock in between) and through the store; nothing is lost or misused.
    func testOneConnectionFromManyTasksAtOnce() async throws {
        let dir = try scratch()
        let db = try SQLiteDatabase.open(path: dir + "/c.sqlite", logger: Logger(label: "test"))
        try await db.raw("CREATE TABLE t (task INTEGER, n INTEGER)").run()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<40 {
                group.addTask {
                    for n in 0..<25 {
                        try await db.raw("INSERT INTO t (task, n) VALUES (\(bind: task), \(bind: n))").run()
                        _ = try await db.raw("SELECT COUNT(*) AS c FROM t WHERE task = \(bind: task)").first()
                    }
                }
            }
            try await group.waitForAll()
        }
        let count = try await db.raw("SELECT COUNT(*) AS c FROM t").first()?.decode(column: "c", as: Int.self)
        XCTAssertEqual(count, 1_000)
        db.close()

        let store = try await StoreFactory.open(url: "", dataDir: dir, logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<40 {
                group.addTask {
                    _ = try await store.createChannel(id: "ch_c\(n)", streamKey: "KEY_c\(n)_0123456789abcdef", fields: ChannelFields(userId: "u1", name: "c\(n)"), now: Date())
                    _ = try await store.channel(streamKey: "KEY_c\(n)_0123456789abcdef")
                }
            }
            try await group.waitForAll()
        }
        for n in 0..<40 {
            let found = try await store.channel(id: "ch_c\(n)")
            XCTAssertEqual(found?.name, "c\(n)")
        }
        await store.close()
    }

    /// Every statement a publish runs, from the key lookup to the session's end, is answered by an
    /// index: with 2,000 channels stored, none steps through a whole table. (Unindexed, the end's
    /// `UPDATE channels … WHERE session_id = ?` read every channel: 15 ms holding the one writer
    /// at 100,000 channels, the accept benchmark's tail.)
    func testAPublishsStatementsReadNoWholeTable() async throws {
        let store = try await StoreFactory.open(url: "", dataDir: try scratch(), logger: Logger(label: "test"))
        let writer = try XCTUnwrap(store.db as? SQLiteDatabase)
        let now = Date()
        try await store.transaction { db in
            for n in 0..<2_000 {
                try await db.raw("""
                    INSERT INTO channels (id, user_id, name, description, tags, stream_key, status, enabled, hls, record, reconnect_window_sec,
                      duplicate_policy, metadata, created_at, updated_at, playback_policy, renditions)
                    VALUES (\(bind: "ch_\(n)"), \(bind: "u\(n % 50)"), 'n', '', '[]', \(bind: "KEY_\(n)_0123456789abcdef"), 'offline', 1, 0, 0, 5,
                      'reject', '{}', \(bind: Timestamp.format(now)), \(bind: Timestamp.format(now)), 'public', '[]')
                    """).run()
            }
        }
        var readers: [SQLiteDatabase] = []
        for reader in store.readers { readers.append(try XCTUnwrap(reader.db as? SQLiteDatabase)) }
        for db in [writer] + readers { db.countFullScans(true) }

        for n in [7, 1_234] {
            let channel = try XCTUnwrapAsync(try await store.channel(streamKey: "KEY_\(n)_0123456789abcdef"))
            _ = try await store.userLimits(userId: channel.userId)
            let session = SessionRecord(id: "ses_\(n)", channelId: channel.id, nodeId: "node-a", startedAt: now, remoteAddr: "10.0.0.1:1", encoder: "ffmpeg")
            let started = try await store.acquireSession(session, event: .make(type: "channel.live", channelId: channel.id, userId: channel.userId, at: now, data: .object([:])),
                                                         now: now, takeOver: false, rule: { .busy(node: $0.lease.nodeId) })
            guard case .started = started else { return XCTFail("not started: \(started)") }
            _ = try await store.recordSessionMedia(id: session.id, media: .object(["video": .object(["codec": .string("h264")])]),
                                                   event: .make(type: "channel.media", channelId: channel.id, userId: channel.userId, at: now, data: .object([:])), now: now)
            _ = try await store.renewLeases(nodeId: "node-a", carrying: [channel.id: session.id], now: now.addingTimeInterval(1), stats: [channel.id: "{}"])
            _ = try await store.markLease(channelId: channel.id, sessionId: session.id, nodeId: "node-a", state: .reconnecting, windowEndsAt: now.addingTimeInterval(5),
                                          endReason: "connection_closed", leftAt: now.addingTimeInterval(2), now: now.addingTimeInterval(2), announce: true)
            _ = try await store.markLease(channelId: channel.id, sessionId: session.id, nodeId: "node-a", state: .live, windowEndsAt: nil, endReason: nil,
                                          leftAt: nil, now: now.addingTimeInterval(3), announce: true)
            let ended = try await store.endSession(id: session.id, reason: "connection_closed", now: now.addingTimeInterval(4),
                                                   event: .make(type: "channel.offline", channelId: channel.id, userId: channel.userId, at: now, data: .object([:])), byNode: "node-a")
            XCTAssertNotNil(ended)
        }
        var scans: [String: Int] = [:]
        for db in [writer] + readers { scans.merge(db.countFullScans(false)) { $0 + $1 } }
        XCTAssertGreaterThan(scans.count, 10, "the statements were counted")
        let wide = scans.filter { $0.value >= 100 }
        XCTAssertTrue(wide.isEmpty, "statements that read a whole table:\n" + wide.map { "\($0.value) steps: \($0.key)" }.joined(separator: "\n"))
        await store.close()
    }

    /// A lease renewal's work grows with the leases it renews, not with their square: the
    /// statements' virtual-machine steps at 2,000 carried leases are about ten times those at
    /// 200 (measured 9.9×). Driven the other way — each of the node's leases scanning the
    /// carried list, the plan SQLite picks without `+node_id` — it is 91 times (and
    /// 2 s of the writer at 8,000 leases). Leases of another node and one the node does not
    /// carry are in the table too, and the renewal's answer is checked at both sizes.
    func testALeaseRenewalsWorkGrowsWithItsLeasesNotTheirSquare() async throws {
        let store = try await StoreFactory.open(url: "", dataDir: try scratch(), logger: Logger(label: "test"))
        let writer = try XCTUnwrap(store.db as? SQLiteDatabase)
        let now = Date()
        var steps: [Int: Int] = [:]
        for size in [200, 2_000] {
            try await store.transaction { db in
                try await db.raw("DELETE FROM channel_leases").run()
                for n in 0..<(size + 1) {
                    for node in ["node-a", "node-b"] {
                        try await db.raw("""
                            INSERT INTO channel_leases (channel_id, session_id, node_id, state, expires_at, stats, updated_at)
                            VALUES (\(bind: "ch_\(node)_\(n)"), \(bind: "ses_\(node)_\(n)"), \(bind: node), 'live', \(bind: Timestamp.format(now)), NULL, \(bind: Timestamp.format(now)))
                            """).run()
                    }
                }
            }
            // node-a carries all but its last lease; node-b's are not its business.
            let carrying = Dictionary(uniqueKeysWithValues: (0..<size).map { ("ch_node-a_\($0)", "ses_node-a_\($0)") })
            let stats = carrying.mapValues { _ in #"{"bitrateKbps":600}"# }
            writer.countVMSteps(true)
            let renewal = try await store.renewLeases(nodeId: "node-a", carrying: carrying, now: now.addingTimeInterval(1), stats: stats)
            steps[size] = writer.countVMSteps(false).values.reduce(0, +)
            XCTAssertEqual(renewal.held, carrying, "every carried lease renewed")
            XCTAssertEqual(renewal.notCarried, ["ch_node-a_\(size)": "ses_node-a_\(size)"])
            let written = try await store.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM channel_leases WHERE stats IS NOT NULL").first()?.decode(column: "n", as: Int.self)
            }
            XCTAssertEqual(written, size, "each carried lease's figures, no other's")
        }
        let small = try XCTUnwrap(steps[200]), large = try XCTUnwrap(steps[2_000])
        XCTAssertGreaterThan(small, 1_000, "the steps were counted")
        XCTAssertLessThan(Double(large) / Double(small), 20, "VM steps: \(small) at 200 leases, \(large) at 2,000")
        await store.close()
    }

    /// Checkpoints run from their own connection when the WAL passes 1,000 pages, instead of
    /// inside a writer's commit (SQLite's automatic checkpoint is off once the hook is set): the
    /// WAL stays bounded while far more than that is written — without the checkpointer it
    /// would hold everything written. The bound holds on a busy machine too: past 4,000 pages the
    /// writer's own commit checkpoints, after the checkpoint in flight (which held the lock and
    /// had the writer's refused: 40.7 and 44.2 MB with a build using both cores, before).
    func testTheWALIsCheckpointedOffTheWriter() async throws {
        let dir = try scratch()
        let store = try await StoreFactory.open(url: "", dataDir: dir, logger: Logger(label: "test"))
        try await store.write { db in try await db.raw("CREATE TABLE filler (b BLOB)").run() }
        let chunk = Data(repeating: 0xAB, count: 100_000)
        func size(_ file: String) throws -> Int { try FileManager.default.attributesOfItem(atPath: dir + "/" + file)[.size] as? Int ?? 0 }
        // 5 MB (about 1,250 pages: past the threshold, below the writer's backstop; the file held
        // under 1 MB): only the checkpointer can move them into the database file.
        for _ in 0..<50 {
            try await store.transaction { db in try await db.raw("INSERT INTO filler (b) VALUES (\(bind: chunk))").run() }
        }
        for _ in 0..<500 where try size("livegate.sqlite") < 3_000_000 { try await Task.sleep(for: .milliseconds(10)) }
        XCTAssertGreaterThan(try size("livegate.sqlite"), 3_000_000, "the checkpointer moved the pages into the database file")
        for _ in 0..<600 {   // 60 MB, about 14,600 pages of 4 KiB
            try await store.transaction { db in try await db.raw("INSERT INTO filler (b) VALUES (\(bind: chunk))").run() }
        }
        let wal = try FileManager.default.attributesOfItem(atPath: dir + "/livegate.sqlite-wal")[.size] as? Int ?? 0
        let db = try FileManager.default.attributesOfItem(atPath: dir + "/livegate.sqlite")[.size] as? Int ?? 0
        // 4,000 frames of 4,096 + 24 bytes, and one commit's (25): 16.6 MB at most, whatever the load.
        XCTAssertLessThan(wal, 17_000_000, "WAL of \(wal) bytes after 60 MB written (database file \(db)): not checkpointed")
        XCTAssertGreaterThan(db, 40_000_000, "the rows reached the database file")
        await store.close()
    }

    /// Another SQLite client reads what the store wrote, byte for byte: Python's `sqlite3`.
    func testAnotherSQLiteClientReadsWhatTheStoreWrote() async throws {
        let dir = try scratch()
        let store = try await StoreFactory.open(url: "", dataDir: dir, logger: Logger(label: "test"))
        let name = "Chaîne \u{1F3A5} \"live\""
        _ = try await store.createChannel(id: "ch_py", streamKey: "KEY_py_0123456789abcdef", fields: ChannelFields(userId: "u1", name: name), now: Date())
        await store.close()
        let script = """
            import json, sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            row = c.execute("SELECT id, name, stream_key, enabled, reconnect_window_sec FROM channels").fetchone()
            print(json.dumps(row))
            """
        let result = try await ProcessRunner.run("python3", ["-c", script, dir + "/livegate.sqlite"], timeout: 30)
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        let row = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [Any]
        XCTAssertEqual(row?[0] as? String, "ch_py")
        XCTAssertEqual(row?[1] as? String, name)
        XCTAssertEqual(row?[2] as? String, "KEY_py_0123456789abcdef")
        XCTAssertEqual(row?[3] as? Int, 1)
        XCTAssertNotNil(row?[4] as? Int)
    }
}

private func XCTUnwrapAsync<T>(_ value: T?, file: StaticString = #filePath, line: UInt = #line) throws -> T {
    try XCTUnwrap(value, file: file, line: line)
}
