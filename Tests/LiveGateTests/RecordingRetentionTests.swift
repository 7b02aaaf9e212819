import LiveGateModel
import ChannelStore
import Foundation
@testable import LiveGate
import Logging
import TestSupport
import XCTest

/// Issue #19 item 8: recordings no longer live for ever. The sweep on a given `now` (no waiting)
/// against a real store: the server's retention, a user's own, a file held by another node; then
/// the binary as deployed: an old recording is deleted at start with `video.deleted`, a deleted
/// one through the API says so too, and `/usage` counts what is kept.
final class RecordingRetentionTests: XCTestCase {
    func video(_ id: String, user: String, ageDays: Double, now: Date, dir: URL, file: Bool = true, node: String? = nil) throws -> Video {
        let path = dir.appendingPathComponent("\(id).mp4")
        if file { try Data(repeating: 7, count: 1000).write(to: path) }
        return Video(id: id, channelId: "ch_\(user)", userId: user, sessionId: nil, name: "\(id).mp4", path: path.path, durationSec: 1,
                     sizeBytes: 1000, videoCodec: "h264", audioCodec: nil, width: 16, height: 16, createdAt: now.addingTimeInterval(-ageDays * 86_400), nodeId: node)
    }

    func testTheSweepDeletesWhatIsPastItsOwnersRetentionAndNothingElse() async throws {
        let dir = try MediaTools.temporaryDirectory("retention")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try await StoreFactory.open(url: "", dataDir: dir.path, logger: Logger(label: "test"))
        let now = Date(timeIntervalSince1970: 1_900_000_000)
        try await store.setUserLimits(userId: "short", UserLimits(retentionDays: 1), now: now)
        try await store.setUserLimits(userId: "long", UserLimits(retentionDays: 30), now: now)
        let videos = [
            try video("v_old", user: "plain", ageDays: 10, now: now, dir: dir),          // past the server's 7 days
            try video("v_new", user: "plain", ageDays: 3, now: now, dir: dir),           // within them
            try video("v_short", user: "short", ageDays: 2, now: now, dir: dir),         // past its user's 1 day
            try video("v_long", user: "long", ageDays: 10, now: now, dir: dir),          // within its user's 30 days
            try video("v_away", user: "plain", ageDays: 7.5, now: now, dir: dir, file: false, node: "node-b"),  // another node's file
            try video("v_lost", user: "plain", ageDays: 9, now: now, dir: dir, file: false, node: "node-gone"), // a node long gone
        ]
        for v in videos {
            _ = try await store.createVideo(v, event: .make(type: "video.ready", channelId: v.channelId, userId: v.userId, at: now, data: .null), now: now)
        }
        let sweeper = RecordingRetention(store: store, nodeId: "node-a", defaultDays: 7, dispatcher: nil, interval: .seconds(3600), logger: Logger(label: "test"))
        let deleted = try await sweeper.sweep(now: now)
        XCTAssertEqual(deleted, 4)
        var left: [String] = []
        for v in videos where try await store.video(id: v.id) != nil { left.append(v.id) }
        XCTAssertEqual(left, ["v_new", "v_long"])
        // This node's files went at once; the other nodes' removals wait for them, queued.
        let pending = try await store.pendingFileDeletions()
        XCTAssertEqual(pending, ["node-b": 1, "node-gone": 1])
        let applied = try await FileDeletions(store: store, nodeId: "node-b", logger: Logger(label: "test")).apply()
        XCTAssertEqual(applied, 1, "node-b applies its own (the file already gone counts as removed)")
        let after = try await store.pendingFileDeletions()
        XCTAssertEqual(after, ["node-gone": 1])
        for id in ["v_old", "v_short"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("\(id).mp4").path), "\(id)'s file went with it")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("v_new.mp4").path))
        let events = try await store.events(EventQuery(types: ["video.deleted"], limit: 100)).items
        let data = events.compactMap { $0.payload.objectValue?["data"]?.objectValue }
        XCTAssertEqual(Set(data.compactMap { ($0["video"]?.objectValue?["id"]).flatMap { if case .string(let s) = $0 { s } else { nil } } }),
                       ["v_old", "v_short", "v_away", "v_lost"])
        XCTAssertTrue(data.count == 4 && data.allSatisfy { $0["reason"] == .string("retention") }, "\(data)")
        let again = try await sweeper.sweep(now: now)
        XCTAssertEqual(again, 0, "a second node's sweep finds nothing left")
        let none = RecordingRetention(store: store, nodeId: "node-a", defaultDays: nil, dispatcher: nil, interval: .seconds(3600), logger: Logger(label: "test"))
        let kept = try await none.sweep(now: now.addingTimeInterval(365 * 86_400))
        XCTAssertEqual(kept, 1, "without a server retention only the users' own apply (v_long, a year on)")
        let usage = try await store.usage(userId: "plain")
        XCTAssertEqual(usage.videos, 1, "v_new (v_away went too: its file's removal waits for its node)")
        XCTAssertEqual(usage.videoBytes, 1000)
        await store.close()
    }

    func testTheBinaryDeletesOldRecordingsAtStartAndTheAPISaysWhatIsKept() async throws {
        let dir = try MediaTools.temporaryDirectory("retention-binary")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try await StoreFactory.open(url: "", dataDir: dir.path, logger: Logger(label: "test"))
        let now = Date()
        let old = try video("vid_old", user: "u1", ageDays: 10, now: now, dir: dir), fresh = try video("vid_fresh", user: "u1", ageDays: 1, now: now, dir: dir)
        for v in [old, fresh] {
            _ = try await store.createVideo(v, event: .make(type: "video.ready", channelId: v.channelId, userId: v.userId, at: now, data: .null), now: now)
        }
        await store.close()
        let port = freePorts()
        let setup = try await liveSetup(dir: dir, port: port, token: "keep", extraEnv: ["LIVEGATE_RECORDINGS_RETENTION_DAYS": "7"])
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        let api = setup.api
        let gone = try await eventually(30) {
            let r = try await setup.curl(["\(api)/v1/events?type=video.deleted"])
            return ((r["data"] as? [String: Any])?["items"] as? [[String: Any]] ?? []).count == 1
        }
        XCTAssertTrue(gone, "the old recording was deleted at start")
        XCTAssertFalse(FileManager.default.fileExists(atPath: old.path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: fresh.path))
        let usage = (try await setup.curl(["\(api)/v1/users/u1/usage"])["data"] as? [String: Any])?["storage"] as? [String: Any]
        XCTAssertEqual(usage?["videos"] as? Int, 1)
        XCTAssertEqual(usage?["bytes"] as? Int, 1000)
        XCTAssertEqual(usage?["retentionDays"] as? Int, 7)
        // A user's own retention, set by the operator.
        let set = (try await setup.curl(["-X", "PUT", "\(api)/v1/users/u1/config", "--json", #"{"retentionDays":30}"#])["data"] as? [String: Any])
        XCTAssertEqual(set?["retentionDays"] as? Int, 30)
        // Deleting through the API says so too, with the reason.
        _ = try await setup.curl(["-X", "DELETE", "\(api)/v1/videos/vid_fresh"])
        let events = (try await setup.curl(["\(api)/v1/events?type=video.deleted"])["data"] as? [String: Any])?["items"] as? [[String: Any]] ?? []
        let reasons = events.compactMap { ($0["data"] as? [String: Any])?["reason"] as? String }
        XCTAssertEqual(reasons, ["retention", "deleted"])
        // (The webhook was made after the start's sweep: it gets the second.)
        let delivered = await setup.receiver.wait { $0.contains { $0.type == "video.deleted" && $0.body.contains("\"reason\":\"deleted\"") } }
        XCTAssertTrue(delivered, "the deletion went to the webhook")
        try await setup.receiver.verifyWithStandardWebhooks()
        setup.gateway.terminate()
        setup.gateway.waitUntilExit()
    }
}
