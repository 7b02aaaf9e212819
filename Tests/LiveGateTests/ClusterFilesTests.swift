import Crypto
import Foundation
import TestSupport
import XCTest

/// Issue #21 items 1 and 2: nothing a user sees lives on one node. Two real nodes on one
/// PostgreSQL, each in its own mount namespace with its data directory at the same path (as
/// separate containers would have it), so a node that tried to read another's files by their
/// path would find nothing: what one node holds, the other must fetch from it.
final class ClusterFilesTests: XCTestCase {
    struct HTTPResult {
        var status: Int
        var body: Data
        var headers: String
    }

    func get(_ url: String, _ extra: [String] = []) async throws -> HTTPResult {
        let dir = FileManager.default.temporaryDirectory
        let out = dir.appendingPathComponent("get-\(UUID()).body"), head = dir.appendingPathComponent("get-\(UUID()).head")
        defer { try? FileManager.default.removeItem(at: out); try? FileManager.default.removeItem(at: head) }
        let r = try await ProcessRunner.run("curl", ["-s", "-o", out.path, "-D", head.path, "-w", "%{http_code}"] + extra + [url], timeout: 20)
        return HTTPResult(status: Int(r.stdout) ?? 0, body: (try? Data(contentsOf: out)) ?? Data(),
                          headers: (try? String(contentsOf: head, encoding: .utf8)) ?? "")
    }

    func metric(_ text: String, _ prefix: String) -> Double {
        text.split(separator: "\n").filter { $0.hasPrefix(prefix) }.compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
    }

    func testHLSAndRecordingsFromEitherNodeAndADeleteReachesTheFilesNode() async throws {
        let cluster = try await startCluster("cluster-files", privateData: true)
        defer { Task { await cluster.stop() } }
        var publishers: [Process] = []
        defer { for p in publishers where p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        let clip = try await MediaTools.makeClip(seconds: 2, in: cluster.dir)
        let channel = try await cluster.createChannel(#"{"name":"files","userId":"u1","record":true,"hls":true}"#)
        let (a, b) = (cluster.nodes[0], cluster.nodes[1])
        publishers.append(try startPublisher(clip, url: "\(a.rtmp)/\(channel.key)", seconds: 14))

        // The playlist through node b, which holds nothing: fetched from node a.
        let playlistB = "\(b.api)/hls/\(channel.id)/index.m3u8"
        var segments: [String] = []
        let serving = try await eventually(20, every: .milliseconds(250)) {
            let r = try await get(playlistB)
            segments = String(decoding: r.body, as: UTF8.self).split(separator: "\n").filter { $0.hasSuffix(".ts") }.map(String.init)
            return r.status == 200 && segments.count >= 2
        }
        XCTAssertTrue(serving, "node b serves node a's playlist: " + cluster.logText(1).suffix(3000))
        XCTAssertFalse(FileManager.default.fileExists(atPath: b.dir.appendingPathComponent("hls/\(channel.id)").path),
                       "node b writes no HLS of its own (the files are node a's)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: a.dir.appendingPathComponent("hls/\(channel.id)/\(segments[0])").path))

        // Every segment node b lists, through node b: byte for byte node a's file.
        for segment in segments {
            let viaB = try await get("\(b.api)/hls/\(channel.id)/\(segment)")
            guard viaB.status == 200 else { continue } // rolled out of the window meanwhile
            let onA = try? Data(contentsOf: a.dir.appendingPathComponent("hls/\(channel.id)/\(segment)"))
            if let onA { XCTAssertEqual(viaB.body, onA, segment) }
            XCTAssertTrue(viaB.headers.lowercased().contains("content-type: video/mp2t"), viaB.headers)
        }

        // Ten viewers of one segment through node b cost node a one fetch.
        // A segment nobody asked node b for yet: one that appeared after the reads above.
        var newest = ""
        let appeared = try await eventually(10, every: .milliseconds(100)) {
            let listed = String(decoding: try await get(playlistB).body, as: UTF8.self).split(separator: "\n").filter { $0.hasSuffix(".ts") }
            newest = listed.last.map(String.init) ?? ""
            return !newest.isEmpty && !segments.contains(newest)
        }
        XCTAssertTrue(appeared)
        let before = metric(String(decoding: try await get("\(b.api)/metrics").body, as: UTF8.self), "livegate_peer_fetches_total")
        let segmentURL = "\(b.api)/hls/\(channel.id)/\(newest)"
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    let r = try await ProcessRunner.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", segmentURL], timeout: 20)
                    return Int(r.stdout) ?? 0
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        XCTAssertEqual(statuses, Array(repeating: 200, count: 10))
        let after = metric(String(decoding: try await get("\(b.api)/metrics").body, as: UTF8.self), "livegate_peer_fetches_total")
        XCTAssertEqual(after - before, 1, "one fetch for the segment")

        // A player on node b plays 6 s with no failed segment (ffmpeg stops at the first error).
        let played = cluster.dir.appendingPathComponent("played-b.ts")
        let player = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-xerror", "-i", playlistB, "-t", "6", "-c", "copy",
                                                            "-f", "mpegts", "-y", played.path], timeout: 40)
        XCTAssertEqual(player.exitCode, 0, player.stderr)
        let playedStreams = try await MediaTools.probe(played)
        XCTAssertGreaterThan(playedStreams.first { $0.codecType == "video" }?.packets ?? 0, 100, "\(playedStreams)")

        // The node-to-node endpoint opens to nobody but a node: not anonymously, not with the
        // operator's API token, not with a signature made with another key.
        let inside = "\(a.api)/internal/v1/hls/\(channel.id)/index.m3u8"
        let anonymous = try await get(inside)
        XCTAssertEqual(anonymous.status, 403)
        let withToken = try await get(inside, ["-u", "\(ClusterHarness.token):\(ClusterHarness.secret)"])
        XCTAssertEqual(withToken.status, 403)
        let time = String(Int(Date().timeIntervalSince1970))
        let path = "/internal/v1/hls/\(channel.id)/index.m3u8"
        let forged = HMAC<SHA256>.authenticationCode(for: Data("v1\n\(time)\nnode-b\nGET\n\(path)".utf8), using: SymmetricKey(data: Data("guess".utf8)))
        let wrongKey = try await get(inside, ["-H", "x-livegate-node: node-b", "-H", "x-livegate-time: \(time)",
                                              "-H", "x-livegate-signature: v1=" + forged.map { String(format: "%02x", $0) }.joined()])
        XCTAssertEqual(wrongKey.status, 403)
        XCTAssertTrue(String(decoding: wrongKey.body, as: UTF8.self).contains("bad signature"))

        // The recording: made on node a, downloaded whole and in ranges through node b.
        let ready = await cluster.receiver.wait(timeout: 40) { $0.contains { $0.type == "video.ready" && $0.channelId == channel.id } }
        XCTAssertTrue(ready)
        let videos = try await cluster.curl(1, ["/v1/videos?channelId=\(channel.id)"])
        let video = try XCTUnwrap(((videos["data"] as? [String: Any])?["items"] as? [[String: Any]])?.first, "\(videos)")
        let videoId = try XCTUnwrap(video["id"] as? String)
        let auth = ["-u", "\(ClusterHarness.token):\(ClusterHarness.secret)"]
        let whole = try await get("\(b.api)/v1/videos/\(videoId)/file", auth)
        XCTAssertEqual(whole.status, 200, String(decoding: whole.body.prefix(300), as: UTF8.self))
        let recordings = a.dir.appendingPathComponent("recordings/\(channel.id)")
        let onA = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: recordings.path).first { $0.hasSuffix(".mp4") })
        XCTAssertEqual(whole.body, try Data(contentsOf: recordings.appendingPathComponent(onA)), "node b passes node a's file on unchanged")
        let downloaded = cluster.dir.appendingPathComponent("via-b.mp4")
        try whole.body.write(to: downloaded)
        let streams = try await MediaTools.probe(downloaded)
        XCTAssertEqual(Set(streams.map(\.codecName)), ["h264", "aac"])
        let ranged = try await get("\(b.api)/v1/videos/\(videoId)/file", auth + ["-H", "Range: bytes=100-199"])
        XCTAssertEqual(ranged.status, 206)
        XCTAssertEqual(ranged.body, whole.body.subdata(in: 100..<200))
        XCTAssertTrue(ranged.headers.lowercased().contains("content-range: bytes 100-199/\(whole.body.count)"), ranged.headers)
        let beyond = try await get("\(b.api)/v1/videos/\(videoId)/file", auth + ["-H", "Range: bytes=\(whole.body.count)-"])
        XCTAssertEqual(beyond.status, 416)

        // Deleted through node b: the record at once, the file on node a's disk soon after.
        let deleted = try await get("\(b.api)/v1/videos/\(videoId)", auth + ["-X", "DELETE"])
        XCTAssertEqual(deleted.status, 204)
        let removed = await eventually(15) { !FileManager.default.fileExists(atPath: recordings.appendingPathComponent(onA).path) }
        XCTAssertTrue(removed, "node a applied the removal: " + cluster.logText(0).suffix(2000))
        let gone = try await get("\(b.api)/v1/videos/\(videoId)/file", auth)
        XCTAssertEqual(gone.status, 404)
    }

    /// The session moves from node a to node b (a reconnect inside the window): players on
    /// either node follow it — the playlist comes from the new holder, its media sequence goes
    /// on past node a's with a discontinuity, and node a's segments drop out.
    func testAPlaylistFollowsItsSessionToAnotherNode() async throws {
        let cluster = try await startCluster("cluster-hls-move", privateData: true)
        defer { Task { await cluster.stop() } }
        var publishers: [Process] = []
        defer { for p in publishers where p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        let clip = try await MediaTools.makeClip(seconds: 2, in: cluster.dir)
        let channel = try await cluster.createChannel(#"{"name":"move","userId":"u1","hls":true,"reconnectWindowSec":15}"#)
        let (a, b) = (cluster.nodes[0], cluster.nodes[1])
        let first = try startPublisher(clip, url: "\(a.rtmp)/\(channel.key)", seconds: 60)
        publishers.append(first)
        var sequenceOnA = -1
        let playing = try await eventually(20, every: .milliseconds(250)) {
            let text = String(decoding: try await get("\(b.api)/hls/\(channel.id)/index.m3u8").body, as: UTF8.self)
            sequenceOnA = Self.mediaSequence(text) ?? -1
            return text.components(separatedBy: ".ts").count > 3
        }
        XCTAssertTrue(playing)
        kill(first.processIdentifier, SIGKILL)
        let second = try startPublisher(clip, url: "\(b.rtmp)/\(channel.key)", seconds: 30)
        publishers.append(second)
        let continued = await eventually(15) { cluster.logText(1).contains("the session continues here") }
        XCTAssertTrue(continued, cluster.logText(1))
        // Through node a, which no longer holds it: node b's playlist.
        var moved = ""
        let following = try await eventually(20, every: .milliseconds(250)) {
            moved = String(decoding: try await get("\(a.api)/hls/\(channel.id)/index.m3u8").body, as: UTF8.self)
            return moved.contains("#EXT-X-DISCONTINUITY") && moved.components(separatedBy: ".ts").count > 2
        }
        XCTAssertTrue(following, moved)
        let sequence = try XCTUnwrap(Self.mediaSequence(moved), moved)
        XCTAssertGreaterThan(sequence, sequenceOnA, "the media sequence goes on, never back")
        XCTAssertFalse(moved.contains("-\(Self.tag(a.name))-"), "node a's segments dropped out: \(moved)")
        let streams = try await MediaTools.probe(path: "\(a.api)/hls/\(channel.id)/index.m3u8")
        XCTAssertTrue(streams.contains { $0.codecType == "video" && $0.packets > 0 }, "\(streams)")
    }

    static func mediaSequence(_ playlist: String) -> Int? {
        playlist.split(separator: "\n").first { $0.hasPrefix("#EXT-X-MEDIA-SEQUENCE:") }.flatMap { Int($0.split(separator: ":")[1]) }
    }

    /// `NodeTag.of`, computed here independently (FNV-1a, 32 bits).
    static func tag(_ nodeId: String) -> String {
        var hash: UInt32 = 2_166_136_261
        for byte in nodeId.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return String(format: "%08x", hash)
    }
}

extension ClusterFilesTests {
    /// Issue #21 item 2, shared storage: `recordings.dir` on a folder both nodes mount (as NFS
    /// would be). Each node writes under its own sub-folder (its node id); a recording is
    /// downloaded through the other node straight from the shared file; a node's start-up
    /// recovery never touches the other node's unfinished `.part`; a delete through either node
    /// removes the file (applied by the node that wrote it).
    func testTwoNodesOnSharedRecordingStorageNeverCollide() async throws {
        let shared = try MediaTools.temporaryDirectory("shared-recordings")
        defer { try? FileManager.default.removeItem(at: shared) }
        let cluster = try await startCluster("cluster-shared", extraEnv: ["LIVEGATE_RECORDINGS_DIR": shared.path], privateData: true)
        var nodes = cluster.nodes
        defer { for node in nodes where node.process.isRunning { kill(node.process.processIdentifier, SIGKILL) } }
        defer { Task { await cluster.stop() } }
        let clip = try await MediaTools.makeClip(seconds: 2, in: cluster.dir)
        let onA = try await cluster.createChannel(#"{"name":"sa","userId":"u1","record":true}"#)
        let onB = try await cluster.createChannel(#"{"name":"sb","userId":"u2","record":true}"#)
        let a = try startPublisher(clip, url: "\(nodes[0].rtmp)/\(onA.key)", seconds: 4)
        let b = try startPublisher(clip, url: "\(nodes[1].rtmp)/\(onB.key)", seconds: 4)
        defer { for p in [a, b] where p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        let ready = await cluster.receiver.wait(timeout: 40) { $0.filter { $0.type == "video.ready" }.count >= 2 }
        XCTAssertTrue(ready)
        // Each node's files under its own folder of the shared storage.
        let byNode = Dictionary(uniqueKeysWithValues: ["node-a", "node-b"].map { node in
            (node, (FileManager.default.enumerator(atPath: shared.appendingPathComponent(node).path)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".mp4") })
        })
        XCTAssertEqual(byNode["node-a"]?.count, 1, "\(byNode)")
        XCTAssertEqual(byNode["node-b"]?.count, 1, "\(byNode)")
        XCTAssertTrue(byNode["node-a"]?.first?.hasPrefix(onA.id + "/") == true, "\(byNode)")

        // Node a's recording through node b: served from the shared file, byte for byte.
        let auth = ["-u", "\(ClusterHarness.token):\(ClusterHarness.secret)"]
        let videos = try await cluster.curl(1, ["/v1/videos?channelId=\(onA.id)"])
        let video = try XCTUnwrap(((videos["data"] as? [String: Any])?["items"] as? [[String: Any]])?.first, "\(videos)")
        let videoId = try XCTUnwrap(video["id"] as? String)
        XCTAssertEqual(video["nodeId"] as? String, "node-a")
        let file = shared.appendingPathComponent("node-a/\(try XCTUnwrap(byNode["node-a"]?.first))")
        let viaB = try await get("\(nodes[1].api)/v1/videos/\(videoId)/file", auth)
        XCTAssertEqual(viaB.status, 200)
        XCTAssertEqual(viaB.body, try Data(contentsOf: file))

        // An unfinished recording of node b's (as a crash leaves it): node a's restart leaves it alone.
        let foreignPart = shared.appendingPathComponent("node-b/\(onB.id)/ses_unfinished.mp4.part")
        try Data(repeating: 0, count: 4096).write(to: foreignPart)
        nodes[0].process.terminate()
        nodes[0].process.waitUntilExit()
        nodes[0] = try await startClusterNode("node-a", dir: nodes[0].dir, env: cluster.env, port: nodes[0].port,
                                              privateDataAt: ClusterHarness.privateDataPath)
        try await Task.sleep(for: .seconds(2))
        XCTAssertTrue(FileManager.default.fileExists(atPath: foreignPart.path), "node a's recovery never touches node b's files")
        let restartedLog = (try? String(contentsOf: nodes[0].log, encoding: .utf8)) ?? ""
        XCTAssertFalse(restartedLog.contains("ses_unfinished"), restartedLog)

        // Deleted through node b: node a removes its file.
        let deleted = try await get("\(nodes[1].api)/v1/videos/\(videoId)", auth + ["-X", "DELETE"])
        XCTAssertEqual(deleted.status, 204)
        let removed = await eventually(15) { !FileManager.default.fileExists(atPath: file.path) }
        XCTAssertTrue(removed)
    }
}
