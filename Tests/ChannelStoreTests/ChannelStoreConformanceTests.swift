import LiveGateModel
import ChannelStore
import Foundation
import Logging
import TestSupport
import XCTest

/// One suite, two backends: every `ChannelStore` behaviour is checked on SQLite and on a real
/// PostgreSQL (`LIVEGATE_TEST_POSTGRES_URL`, started by `make test`).
class ChannelStoreConformanceTests: XCTestCase {
    var store: SQLChannelStore!
    /// A per-test prefix on ids and keys (each test also has its own database; the prefix keeps
    /// the suite correct if it is ever pointed at a shared one).
    var p = ""

    /// Overridden per backend; the abstract base skips.
    func makeStore() async throws -> SQLChannelStore { throw XCTSkip("abstract conformance suite; runs in its subclasses") }

    override func setUp() async throws {
        p = "t\(UUID().uuidString.prefix(8).lowercased())_"
        store = try await makeStore()
    }

    override func tearDown() async throws {
        await store?.close()
    }

    func fields(_ name: String, user: String) -> ChannelFields { ChannelFields(userId: p + user, name: name) }

    /// `node.joined` when a node registers; `node.lost` once when its heartbeat is older than
    /// 15 s, whoever asks (nodes sweep at once); `node.joined` (rejoined) when it beats again.
    func testNodeEventsJoinedLostOnceAndBack() async throws {
        let t0 = Timestamp.parse(Timestamp.format(Date()))
        let after = try await store.events(EventQuery(limit: 1, cursor: nil)).items.last?.seq ?? 0
        let id = p + "x"
        let mine = { (events: [StoredEvent]) -> [StoredEvent] in
            events.filter { $0.payload.objectValue?["data"]?.objectValue?["node"]?.objectValue?["id"] == JSONValue.string(id) }
        }
        try await store.registerNode(NodeRecord(id: p + "x", addresses: ["rtmp://x:1935"], version: "1", startedAt: t0, heartbeatAt: t0))
        var events = mine(try await store.events(EventQuery(after: 0, types: ["node.joined", "node.lost"], limit: 500)).items)
        XCTAssertEqual(events.map { $0.type }, ["node.joined"])
        XCTAssertGreaterThan(events.first?.seq ?? 0, after)
        let none = try await store.claimLostNodes(now: t0.addingTimeInterval(NodeRecord.lostAfter), lostAfter: NodeRecord.lostAfter)
        XCTAssertFalse(none.contains { $0.id == p + "x" }, "not before 15 s")
        let store = self.store!
        let claimed = try await withThrowingTaskGroup(of: [NodeRecord].self) { group in
            for _ in 0..<2 { group.addTask { try await store.claimLostNodes(now: t0.addingTimeInterval(16), lostAfter: NodeRecord.lostAfter) } }
            return try await group.reduce(into: [NodeRecord]()) { $0 += $1 }
        }.filter { $0.id == id }
        XCTAssertEqual(claimed.count, 1, "taken for lost once, though two nodes swept at once")
        events = mine(try await store.events(EventQuery(after: 0, types: ["node.joined", "node.lost"], limit: 500)).items)
        XCTAssertEqual(events.map { $0.type }, ["node.joined", "node.lost"])
        let beat = try await store.heartbeatNode(id: p + "x", at: t0.addingTimeInterval(20))
        XCTAssertTrue(beat)
        _ = try await store.heartbeatNode(id: p + "x", at: t0.addingTimeInterval(22))
        events = mine(try await store.events(EventQuery(after: 0, types: ["node.joined", "node.lost"], limit: 500)).items)
        XCTAssertEqual(events.map { $0.type }, ["node.joined", "node.lost", "node.joined"])
        XCTAssertEqual(events.last?.payload.objectValue?["data"]?.objectValue?["rejoined"], JSONValue.bool(true))
        try await store.removeNode(id: p + "x")
    }

    /// Nodes sharing the store (issue #14 item 1): register (again after a restart: same id,
    /// new start), heartbeat, list with health; a heartbeat for a removed row says so.
    func testNodesRegisterHeartbeatAndList() async throws {
        let t0 = Timestamp.parse(Timestamp.format(Date()))
        try await store.registerNode(NodeRecord(id: p + "a", addresses: ["rtmp://a:1935", "http://a:8080"], version: "1", startedAt: t0, heartbeatAt: t0))
        try await store.registerNode(NodeRecord(id: p + "b", addresses: ["rtmp://b:1935"], version: "1", startedAt: t0, heartbeatAt: t0))
        let later = t0.addingTimeInterval(20)
        let beat = try await store.heartbeatNode(id: p + "a", at: later)
        XCTAssertTrue(beat)
        let nodes = try await store.nodes().filter { $0.id.hasPrefix(p) }
        XCTAssertEqual(nodes.map(\.id), [p + "a", p + "b"])
        XCTAssertEqual(nodes[0].addresses, ["rtmp://a:1935", "http://a:8080"])
        XCTAssertEqual(nodes[0].heartbeatAt, later)
        XCTAssertTrue(nodes[0].isHealthy(at: later.addingTimeInterval(1)))
        XCTAssertFalse(nodes[1].isHealthy(at: later.addingTimeInterval(1)), "b's heartbeat is 21 s old")
        XCTAssertTrue(nodes[1].isHealthy(at: t0.addingTimeInterval(NodeRecord.lostAfter)), "healthy up to 15 s after its heartbeat")
        XCTAssertFalse(nodes[1].isHealthy(at: t0.addingTimeInterval(NodeRecord.lostAfter + 0.001)), "lost after")
        let restarted = t0.addingTimeInterval(30)
        try await store.registerNode(NodeRecord(id: p + "b", addresses: ["rtmp://b2:1935"], version: "2", startedAt: restarted, heartbeatAt: restarted))
        let b = try await store.nodes().first { $0.id == p + "b" }
        XCTAssertEqual(b?.version, "2")
        XCTAssertEqual(b?.startedAt, restarted)
        XCTAssertEqual(b?.addresses, ["rtmp://b2:1935"])
        let unknown = try await store.heartbeatNode(id: p + "gone", at: later)
        XCTAssertFalse(unknown)
    }

    func testCreateReadUpdateDeleteChannel() async throws {
        let now = Date()
        let created = try await store.createChannel(id: p + "c1", streamKey: p + "key1",
                                                    fields: ChannelFields(userId: p + "u1", name: "Morning show", tags: ["news", "am"], metadata: .object(["a": .number(1)])),
                                                    now: now)
        XCTAssertEqual(created.status, .offline)
        XCTAssertEqual(created.enabled, true)
        XCTAssertEqual(created.hls, true)
        XCTAssertEqual(created.record, false)
        XCTAssertEqual(created.reconnectWindowSec, 10)
        XCTAssertEqual(created.duplicatePolicy, .reject)
        XCTAssertEqual(created.tags, ["news", "am"])
        XCTAssertEqual(created.metadata, .object(["a": .number(1)]))
        XCTAssertEqual(abs(created.createdAt.timeIntervalSince(now)), 0, accuracy: 0.002)

        let byKey = try await store.channel(streamKey: p + "key1")
        XCTAssertEqual(byKey?.id, p + "c1")

        let updated = try await store.updateChannel(id: p + "c1", fields: ChannelFields(name: "Evening", enabled: false, duplicatePolicy: .replace), now: now + 5)
        XCTAssertEqual(updated?.name, "Evening")
        XCTAssertEqual(updated?.enabled, false)
        XCTAssertEqual(updated?.duplicatePolicy, .replace)
        XCTAssertEqual(updated?.tags, ["news", "am"], "untouched fields stay")
        XCTAssertGreaterThan(updated!.updatedAt, created.updatedAt)

        let reset = try await store.resetStreamKey(id: p + "c1", newKey: p + "key2", now: now + 6)
        XCTAssertEqual(reset?.streamKey, p + "key2")
        let oldKeyLookup = try await store.channel(streamKey: p + "key1")
        XCTAssertNil(oldKeyLookup, "the old key no longer matches")

        let deleted = try await store.deleteChannel(id: p + "c1")
        XCTAssertTrue(deleted)
        let again = try await store.deleteChannel(id: p + "c1")
        XCTAssertFalse(again)
        let gone = try await store.channel(id: p + "c1")
        XCTAssertNil(gone)
        let missingUpdate = try await store.updateChannel(id: p + "nope", fields: ChannelFields(name: "x"), now: now)
        XCTAssertNil(missingUpdate)
    }

    func testPaginationOver250ChannelsHasNoGapsOrRepeats() async throws {
        for i in 0..<250 {
            _ = try await store.createChannel(id: p + String(format: "c%03d", i), streamKey: p + "k\(i)", fields: fields("ch \(i)", user: "pager"), now: Date())
        }
        var seen: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            let page = try await store.listChannels(ChannelQuery(userId: p + "pager", limit: 30, cursor: cursor))
            seen += page.items.map(\.id)
            cursor = page.nextCursor
            pages += 1
        } while cursor != nil && pages < 100
        XCTAssertEqual(pages, 9)
        XCTAssertEqual(seen.count, 250)
        XCTAssertEqual(Set(seen).count, 250)
        XCTAssertEqual(seen, (0..<250).map { p + String(format: "c%03d", $0) }, "creation order")
    }

    func testFilters() async throws {
        _ = try await store.createChannel(id: p + "a", streamKey: p + "ka", fields: ChannelFields(userId: p + "u1", name: "Morning News", tags: ["news"]), now: Date())
        _ = try await store.createChannel(id: p + "b", streamKey: p + "kb", fields: ChannelFields(userId: p + "u1", name: "Sports 100%", tags: ["sport", "news_x"]), now: Date())
        _ = try await store.createChannel(id: p + "c", streamKey: p + "kc", fields: ChannelFields(userId: p + "u2", name: "news at night", tags: []), now: Date())
        // Pages through every match: the PostgreSQL database is shared by the whole run, so other
        // tests' channels can fill the first page of a store-wide query.
        func ids(_ query: ChannelQuery) async throws -> [String] {
            var q = query
            q.limit = 100
            var all: [String] = []
            repeat {
                let page = try await store.listChannels(q)
                all += page.items.map(\.id)
                q.cursor = page.nextCursor
            } while q.cursor != nil
            return all
        }
        let byUser = try await ids(ChannelQuery(userId: p + "u1"))
        XCTAssertEqual(byUser, [p + "a", p + "b"])
        let byTag = try await ids(ChannelQuery(userId: p + "u1", tag: "news"))
        XCTAssertEqual(byTag, [p + "a"], "exact tag match, not a substring")
        let byName = try await ids(ChannelQuery(nameContains: "NEWS")).filter { $0.hasPrefix(p) }
        XCTAssertEqual(byName, [p + "a", p + "c"], "case-insensitive substring")
        let percent = try await ids(ChannelQuery(nameContains: "100%")).filter { $0.hasPrefix(p) }
        XCTAssertEqual(percent, [p + "b"], "LIKE wildcards in the query are literal")
        let live = try await ids(ChannelQuery(status: .live, userId: p + "u1"))
        XCTAssertEqual(live, [])
    }

    func testInvalidCursorIsRejected() async throws {
        do {
            _ = try await store.listChannels(ChannelQuery(cursor: "not-a-cursor"))
            XCTFail("expected an error")
        } catch let e as StoreError {
            XCTAssertEqual(e, .invalidCursor)
        }
    }

    func testMaxChannelsHoldsUnderConcurrentCreates() async throws {
        try await store.setUserLimits(userId: p + "limited", UserLimits(maxChannels: 50), now: Date())
        let store = self.store!
        let prefix = p
        let results = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<100 {
                group.addTask {
                    do {
                        _ = try await store.createChannel(id: prefix + "L\(i)", streamKey: prefix + "LK\(i)",
                                                          fields: ChannelFields(userId: prefix + "limited", name: "n\(i)"), now: Date())
                        return true
                    } catch let e as StoreError {
                        XCTAssertEqual(e, .limitReached("maxChannels"))
                        return false
                    } catch {
                        XCTFail("\(error)")
                        return false
                    }
                }
            }
            var ok = 0
            for await r in group where r { ok += 1 }
            return ok
        }
        XCTAssertEqual(results, 50)
        let usage = try await store.usage(userId: p + "limited")
        XCTAssertEqual(usage.channels, 50)
    }

    func testHundredConcurrentCreatesLoseNothing() async throws {
        let store = self.store!
        let prefix = p
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<100 {
                group.addTask {
                    _ = try await store.createChannel(id: prefix + "C\(i)", streamKey: prefix + "CK\(i)",
                                                      fields: ChannelFields(userId: prefix + "many", name: "n\(i)"), now: Date())
                }
            }
            try await group.waitForAll()
        }
        let page = try await store.listChannels(ChannelQuery(userId: p + "many", limit: 100))
        XCTAssertEqual(page.items.count, 100)
        XCTAssertEqual(Set(page.items.map(\.id)).count, 100)
        XCTAssertNil(page.nextCursor)
    }

    func testUserLimitsRoundTrip() async throws {
        let empty = try await store.userLimits(userId: p + "nobody")
        XCTAssertEqual(empty, UserLimits())
        let limits = UserLimits(maxChannels: 3, maxConcurrentLive: 1, maxBitrateKbps: 6000, maxWidth: 1920, maxHeight: 1080, maxFps: 60,
                                maxSessionSec: 3600, allowedVideoCodecs: ["h264", "hevc"])
        try await store.setUserLimits(userId: p + "u", limits, now: Date())
        let read = try await store.userLimits(userId: p + "u")
        XCTAssertEqual(read, limits)
        try await store.setUserLimits(userId: p + "u", UserLimits(maxChannels: 1), now: Date())
        let replaced = try await store.userLimits(userId: p + "u")
        XCTAssertEqual(replaced, UserLimits(maxChannels: 1), "PUT semantics: unset fields go back to the default")
    }

    func testChangingOwnerRespectsTheNewOwnersLimit() async throws {
        try await store.setUserLimits(userId: p + "full", UserLimits(maxChannels: 0), now: Date())
        _ = try await store.createChannel(id: p + "x", streamKey: p + "kx", fields: fields("x", user: "free"), now: Date())
        do {
            _ = try await store.updateChannel(id: p + "x", fields: ChannelFields(userId: p + "full"), now: Date())
            XCTFail("expected limitReached")
        } catch let e as StoreError {
            XCTAssertEqual(e, .limitReached("maxChannels"))
        }
    }

    func testWebhooksCRUDAndPagination() async throws {
        let hook = try await store.createWebhook(id: p + "w1", secret: "whsec_abc", fields: WebhookFields(url: "http://127.0.0.1:9/hook",
                                                                                                             events: ["channel.live"], channelIds: ["c1"]), now: Date())
        XCTAssertEqual(hook.events, ["channel.live"])
        XCTAssertEqual(hook.secret, "whsec_abc")
        XCTAssertTrue(hook.enabled)
        let patched = try await store.updateWebhook(id: p + "w1", fields: WebhookFields(events: [], enabled: false), now: Date())
        XCTAssertEqual(patched?.events, [])
        XCTAssertEqual(patched?.enabled, false)
        XCTAssertEqual(patched?.channelIds, ["c1"])
        for i in 0..<5 { _ = try await store.createWebhook(id: p + "w\(i + 2)", secret: "s", fields: WebhookFields(url: "http://h/\(i)"), now: Date()) }
        var all: [String] = []
        var cursor: String?
        repeat {
            let page = try await store.listWebhooks(limit: 2, cursor: cursor)
            all += page.items.map(\.id)
            cursor = page.nextCursor
        } while cursor != nil
        XCTAssertEqual(all.filter { $0.hasPrefix(p) }.count, 6)
        let deletedHook = try await store.deleteWebhook(id: p + "w1")
        XCTAssertTrue(deletedHook)
        let missingHook = try await store.webhook(id: p + "w1")
        XCTAssertNil(missingHook)
    }

    /// Nodes started at once save the same configured token at once: every save succeeds (a
    /// delete-then-insert failed one of them on the primary key, 3 runs in 15 on PostgreSQL).
    func testTwentyConcurrentSavesOfOneTokenAllSucceed() async throws {
        let id = p + "race"
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<20 {
                group.addTask { [store] in
                    try await store!.saveToken(APIToken(id: id, secretHash: "h\(i)", scopes: ["admin"], origin: .configured, createdAt: Date()))
                }
            }
            try await group.waitForAll()
        }
        let token = try await store.token(id: id)
        XCTAssertNotNil(token)
        XCTAssertTrue(token?.secretHash.hasPrefix("h") == true)
    }

    func testTokensAreStoredHashedAndReplaced() async throws {
        try await store.saveToken(APIToken(id: p + "tok", secretHash: "h1", scopes: ["admin"], origin: .configured, createdAt: Date()))
        try await store.saveToken(APIToken(id: p + "tok", secretHash: "h2", scopes: ["videos"], userId: "u9", origin: .api, createdAt: Date()))
        let token = try await store.token(id: p + "tok")
        XCTAssertEqual(token?.secretHash, "h2", "replaced")
        XCTAssertEqual(token?.scopes, ["videos"])
        XCTAssertEqual(token?.userId, "u9")
        XCTAssertEqual(token?.origin, .api)
        XCTAssertNil(token?.lastUsedAt)
        let used = Timestamp.parse(Timestamp.format(Date()))
        try await store.touchToken(id: p + "tok", at: used)
        let touched = try await store.token(id: p + "tok")
        XCTAssertEqual(touched?.lastUsedAt, used)
        try await store.saveToken(APIToken(id: p + "gen", secretHash: "h3", scopes: ["admin"], origin: .generated, createdAt: Date()))
        let revoked = try await store.deleteTokens(origin: .generated, keeping: p + "tok")
        XCTAssertEqual(revoked, [p + "gen"])
        let gone = try await store.token(id: p + "gen")
        XCTAssertNil(gone)
        let listed = try await store.listTokens(limit: 10, cursor: nil)
        XCTAssertEqual(listed.items.map(\.id), [p + "tok"])
        let deleted = try await store.deleteToken(id: p + "tok")
        XCTAssertTrue(deleted)
        try await store.saveToken(APIToken(id: p + "tok2", secretHash: "h4", scopes: ["admin"], origin: .configured, createdAt: Date()))
        let count = try await store.tokenCount()
        XCTAssertGreaterThanOrEqual(count, 1)
    }

    func testEventsAndVideosStartEmptyAndPing() async throws {
        try await store.ping()
        let videos = try await store.searchVideos(ChannelQuery(userId: p + "none"))
        XCTAssertEqual(videos.items.count, 0)
        let events = try await store.events(EventQuery(after: Int64.max - 1, limit: 10))
        XCTAssertEqual(events.items.count, 0)
    }
}

final class SQLiteChannelStoreTests: ChannelStoreConformanceTests {
    var path = ""

    override func makeStore() async throws -> SQLChannelStore {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("livegate-store-\(UUID()).sqlite").path
        return try await StoreFactory.open(url: "", dataDir: (path as NSString).deletingLastPathComponent + "/" + UUID().uuidString, logger: Logger(label: "test"))
    }

    func testFileIsCreatedInWALModeAndMigrationsAreIdempotent() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("livegate-wal-\(UUID())").path
        let first = try await StoreFactory.open(url: "", dataDir: dir, logger: Logger(label: "test"))
        _ = try await first.createChannel(id: "c", streamKey: "k", fields: ChannelFields(userId: "u", name: "n"), now: Date())
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/livegate.sqlite-wal"), "WAL journal in use")
        await first.close()
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/livegate.sqlite"))
        let second = try await StoreFactory.open(url: "", dataDir: dir, logger: Logger(label: "test"))
        let kept = try await second.channel(id: "c")
        XCTAssertEqual(kept?.name, "n", "data survives a restart; migrations do not run twice")
        await second.close()
        try? FileManager.default.removeItem(atPath: dir)
    }
}

final class PostgresChannelStoreTests: ChannelStoreConformanceTests {
    /// A fresh database per test, dropped afterwards: tests never see each other's rows.
    var scratch: PostgresScratchDatabase?

    override func makeStore() async throws -> SQLChannelStore {
        guard let url = ProcessInfo.processInfo.environment["LIVEGATE_TEST_POSTGRES_URL"] else {
            throw XCTSkip("LIVEGATE_TEST_POSTGRES_URL is not set; `make test` starts PostgreSQL and sets it")
        }
        let scratch = try await PostgresScratchDatabase.create(baseURL: url)
        self.scratch = scratch
        return try await StoreFactory.open(url: scratch.url, dataDir: "", logger: Logger(label: "test"))
    }

    /// The nodes of a new cluster start together against one empty database, and each runs the
    /// migrations: each must open on its first try. Seen by hand with two nodes: the second
    /// failed `CREATE TABLE IF NOT EXISTS schema_migrations` (two such creates at once collide on
    /// PostgreSQL's catalogue, 23505), logged "PostgreSQL not reachable" and retried. Five
    /// fresh databases, four stores opening at once on each.
    func testStoresOpeningTogetherOnAnEmptyDatabaseEachMigrateOnTheFirstTry() async throws {
        guard let url = ProcessInfo.processInfo.environment["LIVEGATE_TEST_POSTGRES_URL"] else { throw XCTSkip("no PostgreSQL") }
        let alone = try await XCTUnwrap(scratch).strings("SELECT version::text FROM schema_migrations ORDER BY version")
        XCTAssertFalse(alone.isEmpty)
        for _ in 0..<5 {
            let fresh = try await PostgresScratchDatabase.create(baseURL: url)
            var failures: [String] = []
            await withTaskGroup(of: String?.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        do {
                            let store = try await StoreFactory.open(url: fresh.url, dataDir: "", logger: Logger(label: "test"))
                            await store.close()
                            return nil
                        } catch { return StoreFactory.describe(error) }
                    }
                }
                for await failure in group { if let failure { failures.append(failure) } }
            }
            let versions = try await fresh.strings("SELECT version::text FROM schema_migrations ORDER BY version")
            await fresh.drop()
            XCTAssertEqual(failures, [], "every store opened on its first try")
            XCTAssertEqual(versions, alone, "every migration applied, as by a store opening alone")
        }
    }

    /// A read that meets a connection the server ended (57P01: a restart, an administrator) is
    /// tried again on another connection instead of failing the API call (issue #13 item 6).
    /// Readers run flat out while every connection of the pool is ended every 150 ms; without
    /// the retries reads fail (checked by hand: 39–75 of ~2,200; with one retry only, 8–43),
    /// with them none fails for a dropped connection. A pool request that AsyncKit never
    /// answers (seen here: a reader parked for minutes) is cut by `StoreDeadline` at 10 s.
    func testAReadOnAConnectionTheServerEndedIsRetried() async throws {
        let scratch = try XCTUnwrap(scratch)
        let store = try XCTUnwrap(self.store)
        let id = p + "c"
        _ = try await store.createChannel(id: id, streamKey: p + "k", fields: fields("kept", user: "u"), now: Date())
        let deadline = ContinuousClock.now + .seconds(3)
        let (reads, failures, ended) = try await withThrowingTaskGroup(of: (Int, [String], Int).self) { group in
            for _ in 0..<6 {
                group.addTask {
                    var reads = 0, failures: [String] = []
                    while ContinuousClock.now < deadline {
                        do {
                            if try await store.channel(id: id)?.name != "kept" { failures.append("wrong answer") }
                        } catch {
                            failures.append(String(reflecting: error).prefix(300).description)
                        }
                        reads += 1
                    }
                    return (reads, failures, 0)
                }
            }
            group.addTask {
                var ended = 0
                while ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(150))
                    ended += try await scratch.terminateConnections()
                }
                return (0, [], ended)
            }
            var total = (0, [String](), 0)
            for try await r in group { total = (total.0 + r.0, total.1 + r.1, total.2 + r.2) }
            return total
        }
        XCTAssertGreaterThan(ended, 10, "connections were ended under the readers")
        XCTAssertGreaterThan(reads, 200)
        let dropped = failures.filter { !$0.contains("did not answer within") }
        XCTAssertEqual(dropped.count, 0, "\(dropped.count) of \(reads) reads failed: \(Array(Set(dropped)).prefix(3))")
        XCTAssertLessThanOrEqual(failures.count - dropped.count, 3, "reads cut by the deadline")
    }

    override func tearDown() async throws {
        try await super.tearDown()
        await scratch?.drop()
    }

    /// Also makes XCTest's Linux discovery see this subclass (it only lists classes that declare a test).
    func testRunsAgainstPostgreSQL() async throws {
        XCTAssertEqual(store.backendName, "postgres")
        try await store.ping()
    }
}

extension ChannelStoreConformanceTests {
    func testVideosWithTheirReadyEventInOneTransaction() async throws {
        let video = Video(id: p + "v1", channelId: p + "ch", userId: p + "u", sessionId: p + "s", name: "a.mp4", path: "/data/recordings/a.mp4",
                          durationSec: 12.5, sizeBytes: 123_456, videoCodec: "h264", audioCodec: "aac", width: 1280, height: 720,
                          createdAt: Timestamp.parse(Timestamp.format(Date())))
        let event = try await store.createVideo(video, event: .make(type: "video.ready", channelId: video.channelId, userId: video.userId, at: Date(),
                                                                    data: .object(["video": video.json])), now: Date())
        XCTAssertEqual(event.type, "video.ready")
        let stored = try await store.events(EventQuery(after: event.seq - 1, limit: 1)).items
        XCTAssertEqual(stored.first?.id, event.id)
        let fetched = try await store.video(id: p + "v1")
        let byPath = try await store.video(path: video.path)
        XCTAssertEqual(byPath?.id, video.id, "found by its file (crash recovery's check)")
        let noPath = try await store.video(path: "/data/recordings/none.mp4")
        XCTAssertNil(noPath)
        var got = try XCTUnwrap(fetched)
        XCTAssertEqual(got.createdAt.timeIntervalSince1970, video.createdAt.timeIntervalSince1970, accuracy: 0.001)
        got.createdAt = video.createdAt
        XCTAssertEqual(got, video)
        let page = try await store.searchVideos(ChannelQuery(userId: p + "u"))
        XCTAssertEqual(page.items.map(\.id), [p + "v1"])
        let deleted = try await store.deleteVideo(id: p + "v1", reason: "deleted", now: Date(), byNode: "n1")
        XCTAssertEqual(deleted?.path, "/data/recordings/a.mp4")
        let again = try await store.deleteVideo(id: p + "v1", reason: "deleted", now: Date(), byNode: "n1")
        XCTAssertNil(again)
        let missing = try await store.video(id: p + "v1")
        XCTAssertNil(missing)
    }

    /// A session's figures and its connections (reconnects, replaces) round-trip, and the end
    /// keeps them; the channel is live between start and end.
    func testSessionWithItsConnectionsRoundTrips() async throws {
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        _ = try await store.createChannel(id: p + "cs", streamKey: p + "ks", fields: fields("s", user: "u"), now: t0)
        let session = SessionRecord(id: p + "ses", channelId: p + "cs", nodeId: "n1", startedAt: t0, remoteAddr: "10.0.0.1:1", encoder: "FMLE/3.0")
        _ = try await store.startSession(session, event: .make(type: "channel.live", channelId: p + "cs", userId: p + "u", at: t0, data: .object([:])), now: t0)
        let liveStatus = try await store.channel(id: p + "cs")?.status
        XCTAssertEqual(liveStatus, .live)
        let connections = [
            SessionConnection(remoteAddr: "10.0.0.1:1", encoder: "FMLE/3.0", startedAt: t0, endedAt: t0.addingTimeInterval(7),
                              endReason: "connection_closed", bytesIn: 1_000),
            SessionConnection(remoteAddr: "10.0.0.2:2", encoder: "OBS-Studio/30.0", startedAt: t0.addingTimeInterval(9),
                              endedAt: t0.addingTimeInterval(14), endReason: "unpublished", bytesIn: 2_500),
        ]
        // Each connection adds its own figures (out of order: the list is kept by start time).
        try await store.addSessionConnection(id: session.id, connections[1], videoFrames: 200, audioFrames: 300, videoCodec: nil, audioCodec: "aac")
        try await store.addSessionConnection(id: session.id, connections[0], videoFrames: 100, audioFrames: 200, videoCodec: "h264", audioCodec: nil)
        _ = try await store.endSession(id: session.id, reason: "unpublished", now: t0.addingTimeInterval(14),
                                       event: .make(type: "channel.offline", channelId: p + "cs", userId: p + "u", at: t0, data: .object([:])))
        let found = try await store.session(id: session.id)
        let stored = try XCTUnwrap(found)
        XCTAssertEqual(stored.connections, connections)
        XCTAssertEqual(stored.bytesIn, 3_500)
        XCTAssertEqual(stored.videoFrames, 300)
        XCTAssertEqual(stored.audioFrames, 500)
        XCTAssertEqual(stored.videoCodec, "h264")
        XCTAssertEqual(stored.audioCodec, "aac")
        XCTAssertEqual(stored.endReason, "unpublished")
        let listed = try await store.sessions(channelId: p + "cs", limit: 10, cursor: nil).items
        XCTAssertEqual(listed.first?.connections.map(\.remoteAddr), ["10.0.0.1:1", "10.0.0.2:2"])
        guard case .array(let items)? = { if case .object(let o) = stored.json { return o["connections"] } else { return nil } }() else {
            return XCTFail("the session's JSON lists its connections")
        }
        XCTAssertEqual(items.count, 2)
        let offlineStatus = try await store.channel(id: p + "cs")?.status
        XCTAssertEqual(offlineStatus, .offline)
    }

    func testForwardsPerChannelWithALimitOfFive() async throws {
        _ = try await store.createChannel(id: p + "fc", streamKey: p + "kfc", fields: ChannelFields(userId: p + "u", name: "f"), now: Date())
        var ids: [String] = []
        for i in 0..<5 {
            let f = try await store.createForward(id: p + "f\(i)", channelId: p + "fc", url: "rtmp://h/app/\(i)", enabled: true, now: Date())
            ids.append(f.id)
        }
        do {
            _ = try await store.createForward(id: p + "f5", channelId: p + "fc", url: "rtmp://h/app/5", enabled: true, now: Date())
            XCTFail("a sixth forward")
        } catch let error as StoreError {
            XCTAssertEqual(error, .limitReached("forwards"))
        }
        let listed = try await store.forwards(channelId: p + "fc")
        XCTAssertEqual(listed.map(\.id), ids)
        let updated = try await store.updateForward(id: p + "f0", channelId: p + "fc", url: nil, enabled: false, enhanced: nil, now: Date())
        XCTAssertEqual(updated?.enabled, false)
        XCTAssertEqual(updated?.enhanced, false)
        XCTAssertEqual(updated?.url, "rtmp://h/app/0")
        // An Enhanced RTMP target: kept, and read back as such.
        let enhanced = try await store.updateForward(id: p + "f1", channelId: p + "fc", url: nil, enabled: nil, enhanced: true, now: Date())
        XCTAssertEqual(enhanced?.enhanced, true)
        let reread = try await store.forward(id: p + "f1", channelId: p + "fc")
        XCTAssertEqual(reread?.enhanced, true)
        XCTAssertEqual(reread?.enabled, true)
        let wrongChannel = try await store.forward(id: p + "f0", channelId: p + "other")
        XCTAssertNil(wrongChannel)
        let removed = try await store.deleteForward(id: p + "f1", channelId: p + "fc")
        XCTAssertTrue(removed)
        _ = try await store.deleteChannel(id: p + "fc")
        let afterDelete = try await store.forwards(channelId: p + "fc")
        XCTAssertEqual(afterDelete, [], "a deleted channel's forwards go with it")
    }
}
