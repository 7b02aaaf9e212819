import Foundation
import TestSupport
import XCTest

/// Issue #23 item 1, with the real gateway and real ffmpeg publishers (docs/contract.md §4,
/// "Stream health"): three channels at once — an encoder that stalls (SIGSTOP, as a frozen
/// machine), one that cannot keep up (frames arrive at 40 % of the rate its timestamps say),
/// and one with a 12 s GOP. Each is judged in `/stats`, `/metrics` and by a signed
/// `channel.health_changed` at a real receiver; the stalled one recovers and its final state
/// is sent; the seconds per state are on its session; `stats/history` has its points.
final class StreamHealthTests: XCTestCase {
    func testAStalledASlowAndALongGOPEncoderAreJudgedAndReported() async throws {
        let dir = try MediaTools.temporaryDirectory("health")
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freePorts()
        // Events at most every 5 s here (30 s by default) so the burst's end shows within the test.
        let setup = try await liveSetup(dir: dir, port: port, token: "health", extraEnv: ["LIVEGATE_HEALTH_EVENT_INTERVAL_SEC": "5"])
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        let clip = try await MediaTools.makeClip(seconds: 4, fps: 30, in: dir)
        // One keyframe per 12 s loop: a GOP above the 10 s rule.
        let longGOP = dir.appendingPathComponent("long-gop.flv")
        let made = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
                                                          "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "12", "-c:v", "libx264",
                                                          "-preset", "veryfast", "-g", "1000", "-keyint_min", "1000", "-sc_threshold", "0",
                                                          "-c:a", "aac", "-f", "flv", longGOP.path], timeout: 60)
        XCTAssertEqual(made.exitCode, 0, made.stderr)

        var ids: [String] = []
        var keys: [String] = []
        for name in ["stall", "slow", "gop"] {
            let created = try await setup.curl(["-X", "POST", "\(setup.api)/v1/channels", "--json", #"{"name":"\#(name)","userId":"u1","reconnectWindowSec":0}"#])
            let channel = try XCTUnwrap(created["data"] as? [String: Any], "\(created)")
            ids.append(try XCTUnwrap(channel["id"] as? String))
            keys.append(try XCTUnwrap(channel["streamId"] as? String))
        }
        func publish(_ input: URL, key: String, rate: [String]) throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: try ProcessRunner.which("ffmpeg"))
            p.arguments = ["-hide_banner", "-loglevel", "error"] + rate + ["-stream_loop", "-1", "-i", input.path, "-c", "copy", "-t", "120",
                                                                          "-f", "flv", "rtmp://127.0.0.1:\(port)/live/\(key)"]
            p.standardInput = FileHandle.nullDevice
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.runWithSignalsUnblocked()
            return p
        }
        let stall = try publish(clip, key: keys[0], rate: ["-re"])
        let slow = try publish(clip, key: keys[1], rate: ["-readrate", "0.4"])
        let gop = try publish(longGOP, key: keys[2], rate: ["-re"])
        let all = [stall, slow, gop]
        defer { for p in all where p.isRunning { kill(p.processIdentifier, SIGCONT); kill(p.processIdentifier, SIGKILL) } }

        func health(_ id: String) async throws -> [String: Any] {
            ((try await setup.curl(["\(setup.api)/v1/channels/\(id)/stats"])["data"] as? [String: Any])?["health"] as? [String: Any]) ?? [:]
        }
        // The stalled one: healthy while it sends (its window full), then frozen for about 7 s.
        var h: [String: Any] = [:]
        let healthyFirst = try await eventually(30, every: .milliseconds(500)) {
            h = try await health(ids[0])
            return h["state"] as? String == "healthy" && (h["receivedFps"] as? Double ?? 0) > 25
        }
        XCTAssertTrue(healthyFirst, "a steady publish is healthy with ~30 fps received: \(h)")
        kill(stall.processIdentifier, SIGSTOP)
        let starving = try await eventually(8, every: .milliseconds(250)) {
            h = try await health(ids[0])
            return h["state"] as? String == "starving"
        }
        XCTAssertTrue(starving, "\(h)")
        XCTAssertTrue((h["reasons"] as? [String] ?? []).contains { $0.hasPrefix("no video for ") }, "\(h)")
        // Frozen longer than the event interval, so the starving state itself is sent (a shorter
        // burst sends only where it ended).
        try await Task.sleep(for: .seconds(4))
        kill(stall.processIdentifier, SIGCONT)

        // The slow one: 12 of 30 frames a second once its 10 s window is full.
        let slowStarving = try await eventually(30, every: .milliseconds(500)) {
            h = try await health(ids[1])
            return h["state"] as? String == "starving"
        }
        XCTAssertTrue(slowStarving, "\(h)")
        let reason = (h["reasons"] as? [String])?.first ?? ""
        XCTAssertTrue(reason.hasPrefix("fps 1") && reason.hasSuffix(" of 30"), "received about 12 of 30: \(h)")
        XCTAssertEqual(h["streamFps"] as? Double ?? 0, 30, accuracy: 1)
        XCTAssertLessThan(h["receivedFps"] as? Double ?? 99, 15)
        XCTAssertGreaterThan(h["timestampLagMs"] as? Double ?? 0, 1000, "its timestamps fall behind the wall clock: \(h)")

        // The long GOP: degraded once its open GOP passes 10 s.
        let gopDegraded = try await eventually(30, every: .milliseconds(500)) {
            h = try await health(ids[2])
            return h["state"] as? String == "degraded"
        }
        XCTAssertTrue(gopDegraded, "\(h)")
        XCTAssertTrue((h["reasons"] as? [String] ?? []).contains { $0.hasPrefix("keyframe interval 1") }, "\(h)")

        // /metrics says the same, by state.
        let metrics = try await ProcessRunner.run("curl", ["-s", "\(setup.api)/metrics"], timeout: 10).stdout
        XCTAssertTrue(metrics.contains("livegate_channel_health{channel=\"\(ids[1])\",state=\"starving\"} 1"), metrics.split(separator: "\n")
            .filter { $0.contains("health") }.joined(separator: "\n"))

        // Events, signed, at the receiver: the stalled channel starved and, after the burst, its final state.
        let events = await setup.receiver.wait(timeout: 30) { r in
            let stallEvents = r.filter { $0.type == "channel.health_changed" && $0.channelId == ids[0] }
            return stallEvents.contains { $0.body.contains(#""health":"starving""#) } && stallEvents.last?.body.contains(#""health":"healthy""#) == true
                && r.contains { $0.type == "channel.health_changed" && $0.channelId == ids[1] && $0.body.contains(#""health":"starving""#) }
                && r.contains { $0.type == "channel.health_changed" && $0.channelId == ids[2] && $0.body.contains(#""health":"degraded""#) }
        }
        let received = setup.receiver.all.filter { $0.type == "channel.health_changed" }
        func summary(_ r: WebhookReceiver.Received) -> String {
            let data = ((try? JSONSerialization.jsonObject(with: Data(r.body.utf8))) as? [String: Any])?["data"] as? [String: Any] ?? [:]
            return "\(r.channelId ?? "-") \(r.at) \(data["previous"] ?? "?")→\(data["health"] ?? "?") \(data["reasons"] ?? "")"
        }
        XCTAssertTrue(events, "\(ids) " + received.map(summary).joined(separator: " | "))
        XCTAssertTrue(received.allSatisfy(\.signatureValid))
        let stallEvents = received.filter { $0.channelId == ids[0] }
        for (a, b) in zip(stallEvents, stallEvents.dropFirst()) {
            XCTAssertGreaterThanOrEqual(b.at.timeIntervalSince(a.at), 4.5, "at most one event per configured interval")
        }

        // History: 10 s points of the healthy stretch with ~30 fps.
        let history = (try await setup.curl(["\(setup.api)/v1/channels/\(ids[0])/stats/history?window=5m"])["data"] as? [String: Any]) ?? [:]
        let points = history["points"] as? [[String: Any]] ?? []
        XCTAssertGreaterThanOrEqual(points.count, 2, "\(history)")
        XCTAssertTrue(points.contains { ($0["fps"] as? Double ?? 0) > 25 && ($0["bitrateKbps"] as? Double ?? 0) > 50 }, "\(points)")
        XCTAssertTrue(points.contains { $0["health"] as? String == "starving" }, "the stall is in its point: \(points)")

        // Stopped: each session carries its seconds per state.
        for p in all where p.isRunning { kill(p.processIdentifier, SIGINT) }
        let offline = await setup.receiver.wait(timeout: 30) { r in ids.allSatisfy { id in r.contains { $0.type == "channel.offline" && $0.channelId == id } } }
        XCTAssertTrue(offline, "running: \(all.map(\.isRunning)) " + ((try? String(contentsOf: dir.appendingPathComponent("before.log"), encoding: .utf8)) ?? "").suffix(4000))
        let sessions = (try await setup.curl(["\(setup.api)/v1/channels/\(ids[0])/sessions"])["data"] as? [String: Any])?["items"] as? [[String: Any]] ?? []
        let seconds = sessions.first?["health"] as? [String: Any] ?? [:]
        XCTAssertGreaterThan(seconds["starvingSec"] as? Double ?? 0, 0, "\(sessions.first ?? [:])")
        XCTAssertGreaterThan(seconds["healthySec"] as? Double ?? 0, 5, "\(seconds)")
        let slowSessions = (try await setup.curl(["\(setup.api)/v1/channels/\(ids[1])/sessions"])["data"] as? [String: Any])?["items"] as? [[String: Any]] ?? []
        XCTAssertGreaterThan((slowSessions.first?["health"] as? [String: Any])?["starvingSec"] as? Double ?? 0, 5, "\(slowSessions.first ?? [:])")
    }
}
