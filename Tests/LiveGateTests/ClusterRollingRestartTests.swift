import Foundation
import NIOConcurrencyHelpers
import TestSupport
import XCTest

/// Issue #21 item 4 and "done when": a rolling restart of two nodes behind the shipped HAProxy
/// file, under 10 publishers that reconnect as encoders do (a second after losing their
/// server, through the balancer). Each node in its own mount namespace (its data directory at
/// the same path, as separate containers). No channel sees an offline/live pair; every session
/// goes on across both restarts, and its recording continues as parts of that one session.
final class ClusterRollingRestartTests: XCTestCase {
    /// An encoder that publishes `url` again a second after each time it loses its server.
    /// Stopping it is race-free: a process started while it stops is killed at once, and
    /// `stop()` returns only once the loop has ended.
    final class ReconnectingPublisher: @unchecked Sendable {
        private let lock = NIOLock()
        private var current: Process?
        private var stopped = false
        private(set) var starts = 0
        /// ffmpeg did not end on SIGINT (no clean unpublish: the session waits its window).
        private(set) var killedAtStop = false
        var loop: Task<Void, Never>!

        init(clip: URL, url: String, start: @escaping @Sendable (URL, String) throws -> Process) {
            loop = Task { [self] in
                while !lock.withLock({ stopped }) {
                    if let p = try? start(clip, url) {
                        let kept = lock.withLock { () -> Bool in
                            guard !stopped else { return false }
                            current = p
                            starts += 1
                            return true
                        }
                        if !kept {
                            kill(p.processIdentifier, SIGKILL)
                            return
                        }
                        while p.isRunning, !lock.withLock({ stopped }) { try? await Task.sleep(for: .milliseconds(200)) }
                    }
                    for _ in 0..<10 where !lock.withLock({ stopped }) { try? await Task.sleep(for: .milliseconds(100)) }
                }
            }
        }

        var restarts: Int { lock.withLock { starts - 1 } }

        /// Stops publishing: a clean unpublish (SIGINT lets ffmpeg close its stream), SIGKILL
        /// if it has not gone within 5 s.
        func stop() async {
            let p = lock.withLock { () -> Process? in
                stopped = true
                return current
            }
            if let p, p.isRunning { kill(p.processIdentifier, SIGINT) }
            for _ in 0..<50 where p?.isRunning == true { try? await Task.sleep(for: .milliseconds(100)) }
            if let p, p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                lock.withLock { killedAtStop = true }
            }
            await loop.value
        }

        /// Whatever happens in the test, no ffmpeg outlives it.
        func kill9() {
            let p = lock.withLock { () -> Process? in
                stopped = true
                return current
            }
            if let p, p.isRunning { kill(p.processIdentifier, SIGKILL) }
        }
    }

    func testARollingRestartUnderTenStreamsKeepsEverySession() async throws {
        let cluster = try await startCluster("rolling", extraEnv: ["LIVEGATE_RTMP_PROXY_PROTOCOL": "v2", "LIVEGATE_RTMP_TRUSTED_PROXIES": "127.0.0.1/32",
                                                                   "LIVEGATE_HTTP_TRUSTED_PROXIES": "127.0.0.1/32"], privateData: true)
        var nodes = cluster.nodes
        defer { for node in nodes where node.process.isRunning { kill(node.process.processIdentifier, SIGKILL) } }
        let clip = try await MediaTools.makeClip(seconds: 2, in: cluster.dir)
        let (proxy, front) = try await startShippedBalancer(cluster, nodes: nodes)
        defer { proxy.terminate() }

        var channels: [(id: String, key: String)] = []
        for i in 0..<10 {
            channels.append(try await cluster.createChannel(#"{"name":"roll\#(i)","userId":"r\#(i)","record":true,"hls":true,"reconnectWindowSec":30}"#))
        }
        let ffmpeg = try ProcessRunner.which("ffmpeg")
        let start: @Sendable (URL, String) throws -> Process = { clip, url in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: ffmpeg)
            p.arguments = ["-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", clip.path, "-c", "copy", "-t", "300", "-f", "flv", url]
            p.standardInput = FileHandle.nullDevice
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.runWithSignalsUnblocked()
            return p
        }
        let publishers = channels.map { ReconnectingPublisher(clip: clip, url: "rtmp://127.0.0.1:\(front)/live/\($0.key)", start: start) }
        defer { for p in publishers { p.kill9() } }
        let live = await cluster.receiver.wait(timeout: 40) { r in channels.allSatisfy { c in r.contains { $0.type == "channel.live" && $0.channelId == c.id } } }
        XCTAssertTrue(live, "\(cluster.receiver.all.map(\.type))")
        var sessions: [String: String] = [:]
        for c in channels {
            let data = (try await cluster.curl(1, ["/v1/channels/\(c.id)"])["data"] as? [String: Any]) ?? [:]
            sessions[c.id] = try XCTUnwrap((data["session"] as? [String: Any])?["id"] as? String, "\(data)")
        }

        // A player through the balancer (round robin over both nodes, one of which holds
        // nothing of this channel) plays 30 s with no failed request (-xerror stops at the first).
        let playlistURL = "http://127.0.0.1:\(front + 1)/hls/\(channels[0].id)/index.m3u8"
        let segmented = try await eventually(20, every: .milliseconds(250)) {
            try await ProcessRunner.run("curl", ["-s", playlistURL], timeout: 5).stdout.components(separatedBy: ".ts").count > 2
        }
        XCTAssertTrue(segmented, "the first segments are written")
        let played = cluster.dir.appendingPathComponent("played.ts")
        let player = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-xerror", "-i",
                                                            "http://127.0.0.1:\(front + 1)/hls/\(channels[0].id)/index.m3u8", "-t", "30", "-c", "copy",
                                                            "-f", "mpegts", "-y", played.path], timeout: 90)
        XCTAssertEqual(player.exitCode, 0, player.stderr)
        let playedStreams = try await MediaTools.probe(played)
        XCTAssertGreaterThanOrEqual(playedStreams.first { $0.codecType == "video" }?.packets ?? 0, 25 * 28, "30 s of video: \(playedStreams)")

        /// What happened to a channel, for a failure's first line (all CI shows): its events with
        /// their reasons, and every line of every node's logs (each start has its own) naming it.
        func story(_ channelId: String) -> String {
            let events = cluster.receiver.all.filter { $0.channelId == channelId }.sorted { $0.at < $1.at }
                .map { "\($0.type)#\($0.seq)\($0.reason.map { "(\($0))" } ?? "")" }.joined(separator: " ")
            var lines: [String] = []
            for node in nodes {
                let logs = ((try? FileManager.default.contentsOfDirectory(at: node.dir, includingPropertiesForKeys: nil)) ?? [])
                    .filter { $0.lastPathComponent.hasPrefix("gateway-") && $0.pathExtension == "log" }.sorted { $0.path < $1.path }
                for (start, log) in logs.enumerated() {
                    let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                    lines += text.split(separator: "\n").filter { $0.contains(channelId) }.map { "\(node.name)#\(start): \($0)" }
                }
            }
            return "\(channelId): events \(events) | logs: " + lines.joined(separator: " | ")
        }
        func allLiveAgain() async throws -> Bool {
            for c in channels {
                let data = (try await cluster.curl(1, ["/v1/channels/\(c.id)"])["data"] as? [String: Any]) ?? [:]
                guard data["status"] as? String == "live" else { return false }
            }
            return true
        }
        // One node after the other: SIGTERM (it drains and hands its sessions over), then the
        // same node starts again on its own data directory.
        for index in [0, 1] {
            let node = nodes[index]
            try await Task.sleep(for: .seconds(3))
            node.process.terminate()
            let signalled = Date()
            // The balancer takes the draining node out (its /readyz/ingest fails at the signal):
            // measured from the signal to HAProxy marking it DOWN in the RTMP backend.
            let server = "rtmp_nodes,livegate-\(index == 0 ? "a" : "b"),"
            let out = await eventually(10, every: .milliseconds(100)) {
                let csv = (try? await ProcessRunner.run("curl", ["-s", "http://127.0.0.1:\(front + 2)/stats;csv"], timeout: 5).stdout) ?? ""
                return csv.split(separator: "\n").contains { $0.hasPrefix(server) && !$0.contains(",UP,") && !$0.contains(",UP ") }
            }
            let outAfter = Date().timeIntervalSince(signalled)
            XCTAssertTrue(out, "HAProxy took \(node.name) out")
            print("rolling restart: HAProxy took \(node.name) out of the RTMP backend \(String(format: "%.1f", outAfter)) s after its SIGTERM")
            let exited = await eventually(12) { !node.process.isRunning }
            XCTAssertTrue(exited, "\(node.name) stopped within the 10 s promise")
            XCTAssertEqual(node.process.terminationStatus, 0)
            nodes[index] = try await startClusterNode(node.name, dir: node.dir, env: cluster.env, port: node.port,
                                                      privateDataAt: ClusterHarness.privateDataPath)
            let back = try await eventually(40, every: .milliseconds(500)) { try await allLiveAgain() }
            if !back {
                var notLive: [String] = []
                for c in channels {
                    let data = (try await cluster.curl(1, ["/v1/channels/\(c.id)"])["data"] as? [String: Any]) ?? [:]
                    if data["status"] as? String != "live" { notLive.append("\(data["status"] ?? "?"): " + story(c.id)) }
                }
                XCTFail("not every stream live again 40 s after \(node.name)'s restart: " + notLive.joined(separator: " || "))
            }
        }
        XCTAssertGreaterThan(publishers.map(\.restarts).reduce(0, +), 0, "publishers did reconnect (the restarts cut them)")
        for c in channels {
            let data = (try await cluster.curl(1, ["/v1/channels/\(c.id)"])["data"] as? [String: Any]) ?? [:]
            let session = (data["session"] as? [String: Any])?["id"] as? String
            XCTAssertEqual(session, sessions[c.id], "the same session across both restarts: " + (session == sessions[c.id] ? "" : story(c.id)))
            let types = cluster.receiver.all.filter { $0.channelId == c.id }.map(\.type)
            XCTAssertEqual(types.filter { $0 == "channel.live" }.count, 1, "\(c.id): no offline/live pair: \(types)")
            XCTAssertEqual(types.filter { $0 == "channel.offline" }.count, 0, "\(c.id): \(types)")
        }

        // The publishers stop: each session ends once, and its recording is parts of it.
        for p in publishers { await p.stop() }
        let ended = await cluster.receiver.wait(timeout: 60) { r in channels.allSatisfy { c in r.contains { $0.type == "channel.offline" && $0.channelId == c.id } } }
        if !ended {
            var missing: [String] = []
            for c in channels where !cluster.receiver.all.contains(where: { $0.type == "channel.offline" && $0.channelId == c.id }) {
                let data = (try await cluster.curl(1, ["/v1/channels/\(c.id)"])["data"] as? [String: Any]) ?? [:]
                let session = data["session"] as? [String: Any]
                let events = cluster.receiver.all.filter { $0.channelId == c.id }.sorted { $0.at < $1.at }
                missing.append("\(c.id): status \(data["status"] ?? "?") session \(session?["id"] ?? "none"), events "
                               + events.map { "\($0.type)#\($0.seq)\($0.reason.map { "(\($0))" } ?? "")" }.joined(separator: " "))
            }
            // The summary on the first line: a CI log shows only that line of a failure.
            XCTFail("sessions not ended 60 s after their publishers stopped (\(publishers.filter(\.killedAtStop).count) killed at the stop): "
                    + missing.joined(separator: " | ") + "\n"
                    + "\nnode a: " + String(cluster.logText(0).suffix(1500)) + "\nnode b: " + String(((try? String(contentsOf: nodes[1].log, encoding: .utf8)) ?? "").suffix(3000)))
        }
        try await Task.sleep(for: .seconds(3)) // the last parts' video.ready
        for c in channels {
            let videos = ((try await cluster.curl(0, ["/v1/videos?channelId=\(c.id)"])["data"] as? [String: Any])?["items"] as? [[String: Any]]) ?? []
            XCTAssertGreaterThanOrEqual(videos.count, 2, "\(c.id): a part before and after the restarts")
            XCTAssertEqual(Set(videos.compactMap { $0["sessionId"] as? String }), [sessions[c.id] ?? "?"], "\(c.id): every part of the one session")
        }
        proxy.terminate()
        await cluster.stop(keepFilesOf: self)
    }
}
