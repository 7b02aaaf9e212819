import Foundation
import TestSupport
import XCTest

/// Issue #22 item 6: moving publishers with Enhanced RTMP's `NetConnection.Connect.ReconnectRequest`.
/// The publisher (`scripts/reconnecting-publisher.py`) honours the request as the E-RTMP v2
/// specification describes: it declares Reconnect in `capsEx`, goes on to its next keyframe,
/// connects to the `tcUrl` it was given, continues there and drops the old connection. The
/// channel keeps the default duplicate policy (`reject`): only the request's token lets the
/// second connection in. The session continues — one session, no offline/live pair, one
/// recording, the HLS playlist going on — and no frame is counted twice.
final class ReconnectRequestTests: XCTestCase {
    func testAPublisherAskedToReconnectMovesWithoutAnOfflineLivePair() async throws {
        let dir = try MediaTools.temporaryDirectory("reconnect")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = dir.appendingPathComponent("clip.flv")
        let made = try await ProcessRunner.run("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-f", "lavfi",
                                                          "-i", "sine=frequency=440:sample_rate=44100", "-t", "12", "-c:v", "libx264", "-preset", "ultrafast",
                                                          "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "flv", clip.path], timeout: 60)
        XCTAssertEqual(made.exitCode, 0, made.stderr)
        let port = freePorts()
        let setup = try await liveSetup(dir: dir, port: port, token: "move", record: true)
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        let python = try await StandardWebhooksVerifier.python()
        let script = MultitrackOutputsTests.repository.appendingPathComponent("scripts/reconnecting-publisher.py").path
        let url = "rtmp://127.0.0.1:\(port)/live/\(setup.key)"
        let publisher = Task { try await ProcessRunner.run(python, [script, url, clip.path], timeout: 60) }
        let live = await setup.receiver.wait(timeout: 20) { $0.contains { $0.type == "channel.live" } }
        XCTAssertTrue(live)
        try await Task.sleep(for: .seconds(3))

        // The API asks; the node holding the publisher sends the request with a token in its tcUrl.
        let asked = try await ProcessRunner.run("curl", ["-s", "-w", "\n%{http_code}", "-u", "tok_move:move-secret-0123456789", "-X", "POST",
                                                         "\(setup.api)/v1/channels/\(setup.channelID)/reconnect"], timeout: 10)
        XCTAssertTrue(asked.stdout.hasSuffix("\n202"), asked.stdout)
        XCTAssertTrue(asked.stdout.contains("\"validUntil\""), asked.stdout)

        let result = try await publisher.value
        XCTAssertEqual(result.exitCode, 0, result.stderr.suffix(2000).description)
        let lines = result.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let request = lines.first { $0["event"] as? String == "reconnect_request" }
        XCTAssertNotNil(request, result.stdout)
        XCTAssertEqual(request?["hasToken"] as? Bool, true)
        XCTAssertTrue(lines.contains { $0["event"] as? String == "moved" }, result.stdout)
        let publishing = lines.first { $0["event"] as? String == "publishing" }?["serverCaps"] as? [String: Any]
        XCTAssertEqual((publishing?["capsEx"] as? Double).map { Int($0) & 1 }, 1, "the connect answer says Reconnect: \(result.stdout)")
        let summary = try XCTUnwrap(lines.last { $0["sent"] != nil }, result.stdout)
        XCTAssertEqual(summary["connections"] as? Int, 2)
        let sent = try XCTUnwrap(summary["sent"] as? [String: Int])

        // One session over both connections: live once, offline once at the end, nothing between.
        let ended = await setup.receiver.wait(timeout: 20) { $0.contains { $0.type == "channel.offline" } }
        XCTAssertTrue(ended)
        let types = setup.receiver.all.map(\.type).filter { $0.hasPrefix("channel.") && $0 != "channel.media" }
        XCTAssertEqual(types.filter { $0 == "channel.live" }.count, 1, "\(types)")
        XCTAssertEqual(types.filter { $0 == "channel.offline" }.count, 1, "\(types)")
        XCTAssertFalse(types.contains("channel.disconnected"), "\(types)")
        let sessions = try await setup.curl(["\(setup.api)/v1/channels/\(setup.channelID)/sessions"])
        let items = ((sessions["data"] as? [String: Any])?["items"] as? [[String: Any]]) ?? []
        XCTAssertEqual(items.count, 1, "\(sessions)")
        let session = try XCTUnwrap(items.first)
        let connections = session["connections"] as? [[String: Any]] ?? []
        XCTAssertEqual(connections.count, 2, "\(session)")
        XCTAssertEqual(connections.first?["endReason"] as? String, "replaced", "the old connection was closed by the move: \(connections)")
        XCTAssertEqual(((connections.first?["encoderCaps"] as? [String: Any])?["capsExFlags"] as? [String])?.contains("reconnect"), true, "\(connections)")
        // No frame counted twice: the session's frames are exactly what the publisher sent, once each.
        XCTAssertEqual(session["videoFrames"] as? Int, sent["video"], "\(session) sent \(sent)")
        XCTAssertEqual(session["audioFrames"] as? Int, sent["audio"], "\(session) sent \(sent)")

        // One recording of the whole session (the move did not start a new file).
        let ready = await setup.receiver.wait(timeout: 30) { $0.contains { $0.type == "video.ready" } }
        XCTAssertTrue(ready)
        let videos = try await setup.curl(["\(setup.api)/v1/videos?channelId=\(setup.channelID)"])
        let recorded = ((videos["data"] as? [String: Any])?["items"] as? [[String: Any]]) ?? []
        XCTAssertEqual(recorded.count, 1, "\(videos)")
        XCTAssertEqual(recorded.first?["durationSec"] as? Double ?? 0, 12, accuracy: 1.5, "\(recorded)")
        let log = (try? String(contentsOf: dir.appendingPathComponent("before.log"), encoding: .utf8)) ?? ""
        XCTAssertTrue(log.contains("publisher reconnected as asked"), String(log.suffix(3000)))
        XCTAssertFalse(log.contains("reconnect=lgr1"), "the token is a credential: never logged")
        setup.gateway.terminate()
        setup.gateway.waitUntilExit()
        await setup.receiver.stop()
    }

    /// A classic encoder (ffmpeg) declared nothing: asking it is refused with the reason.
    func testAnEncoderThatCannotReconnectIsNotAsked() async throws {
        let dir = try MediaTools.temporaryDirectory("reconnect-classic")
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freePorts()
        let setup = try await liveSetup(dir: dir, port: port, token: "classic")
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        let url = "rtmp://127.0.0.1:\(port)/live/\(setup.key)"
        let publisher = Task {
            try await ProcessRunner.run("ffmpeg", ["-v", "error", "-re", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=15", "-t", "6", "-c:v", "libx264",
                                                   "-preset", "ultrafast", "-f", "flv", url], timeout: 30)
        }
        let live = await setup.receiver.wait(timeout: 20) { $0.contains { $0.type == "channel.live" } }
        XCTAssertTrue(live)
        let asked = try await ProcessRunner.run("curl", ["-s", "-w", "\n%{http_code}", "-u", "tok_classic:classic-secret-0123456789", "-X", "POST",
                                                         "\(setup.api)/v1/channels/\(setup.channelID)/reconnect"], timeout: 10)
        XCTAssertTrue(asked.stdout.hasSuffix("\n409") && asked.stdout.contains("not_capable"), asked.stdout)
        _ = try await publisher.value
        let offline = try await ProcessRunner.run("curl", ["-s", "-w", "\n%{http_code}", "-u", "tok_classic:classic-secret-0123456789", "-X", "POST",
                                                           "\(setup.api)/v1/channels/\(setup.channelID)/reconnect"], timeout: 10)
        XCTAssertTrue(offline.stdout.hasSuffix("\n409") && offline.stdout.contains("not_live"), offline.stdout)
        setup.gateway.terminate()
        setup.gateway.waitUntilExit()
        await setup.receiver.stop()
    }

    /// Across nodes: node a drains (`POST /v1/system/drain`) with `rtmp.reconnectTcUrl` pointing
    /// at node b. The capable publisher is asked to move, connects to node b with its token and
    /// takes the session over there (node b continues it, node a lets its publisher go and
    /// stops): one session, one channel.live, one channel.offline, no channel.disconnected.
    func testADrainMovesACapablePublisherToAnotherNode() async throws {
        let portB = freePorts()
        var setup = try await startCluster("reconnect-drain", count: 1,
                                           extraEnv: ["LIVEGATE_RTMP_RECONNECT_TC_URL": "rtmp://127.0.0.1:\(portB)/live", "LIVEGATE_SHUTDOWN_DRAIN_SEC": "8"])
        var envB = setup.env
        envB["LIVEGATE_RTMP_RECONNECT_TC_URL"] = nil
        setup.nodes.append(try await startClusterNode("node-b", dir: setup.dir.appendingPathComponent("node-b"), env: envB, port: portB))
        let cluster = setup
        let clip = cluster.dir.appendingPathComponent("clip.flv")
        let made = try await ProcessRunner.run("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-f", "lavfi",
                                                          "-i", "sine=frequency=440:sample_rate=44100", "-t", "12", "-c:v", "libx264", "-preset", "ultrafast",
                                                          "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "flv", clip.path], timeout: 60)
        XCTAssertEqual(made.exitCode, 0, made.stderr)
        let channel = try await cluster.createChannel(#"{"name":"moving","userId":"u1"}"#)
        let python = try await StandardWebhooksVerifier.python()
        let script = MultitrackOutputsTests.repository.appendingPathComponent("scripts/reconnecting-publisher.py").path
        let url = "\(cluster.nodes[0].rtmp)/\(channel.key)"
        let publisher = Task { try await ProcessRunner.run(python, [script, url, clip.path], timeout: 60) }
        let live = await cluster.receiver.wait(timeout: 20) { $0.contains { $0.type == "channel.live" && $0.channelId == channel.id } }
        XCTAssertTrue(live)
        try await Task.sleep(for: .seconds(3))
        let drained = try await cluster.curl(0, ["-X", "POST", "/v1/system/drain"])
        XCTAssertEqual((drained["data"] as? [String: Any])?["draining"] as? Bool, true, "\(drained)")
        let result = try await publisher.value
        XCTAssertEqual(result.exitCode, 0, result.stdout + result.stderr.suffix(2000))
        XCTAssertTrue(result.stdout.contains("\"moved\""), result.stdout)
        XCTAssertTrue(cluster.logText(1).contains("the session continues here"), cluster.logText(1).suffix(3000).description)
        // Node a stopped on its own once its publisher had gone (the drain), with exit 0.
        let stopped = await eventually(15) { !cluster.nodes[0].process.isRunning }
        XCTAssertTrue(stopped)
        if stopped { XCTAssertEqual(cluster.nodes[0].process.terminationStatus, 0) }
        let ended = await cluster.receiver.wait(timeout: 30) { $0.contains { $0.type == "channel.offline" && $0.channelId == channel.id } }
        XCTAssertTrue(ended)
        let events = cluster.receiver.all.filter { $0.channelId == channel.id }.map(\.type).filter { $0 != "channel.media" }
        XCTAssertEqual(events.filter { $0 == "channel.live" }.count, 1, "\(events)")
        XCTAssertEqual(events.filter { $0 == "channel.offline" }.count, 1, "\(events)")
        XCTAssertFalse(events.contains("channel.disconnected"), "no gap was seen: \(events)")
        let sessions = try await cluster.sessions(channel.id, via: 1)
        XCTAssertEqual(sessions.count, 1, "\(sessions)")
        let connections = sessions.first?["connections"] as? [[String: Any]] ?? []
        XCTAssertEqual(connections.count, 2, "\(connections)")
        XCTAssertEqual(sessions.first?["reason"] as? String, "unpublished")
        await cluster.stop()
    }
}
