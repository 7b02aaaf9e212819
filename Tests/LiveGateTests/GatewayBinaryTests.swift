import Foundation
import LiveGateModel
import TestSupport
import XCTest

/// Runs the real `livegate` executable as an operator would.
final class GatewayBinaryTests: XCTestCase {
    func testVersion() async throws {
        let r = try await ProcessRunner.run(gatewayBinary, ["version"], timeout: 10)
        XCTAssertEqual(r.exitCode, 0)
        XCTAssertTrue(r.stdout.hasPrefix("livegate "), r.stdout)
    }

    func testCheckConfigReportsProblemsAndServeRefusesToStart() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("lg-\(UUID()).yaml")
        try "rtmp:\n  maxConnections: 0\n  bogus: 1\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let check = try await ProcessRunner.run(gatewayBinary, ["check-config", "--config", file.path], timeout: 10)
        XCTAssertNotEqual(check.exitCode, 0)
        XCTAssertTrue(check.stdout.contains("rtmp.maxConnections"), check.stdout)
        XCTAssertTrue(check.stdout.contains("rtmp.bogus: unknown key"), check.stdout)
        let serve = try await ProcessRunner.run(gatewayBinary, ["serve", "--config", file.path], timeout: 10)
        XCTAssertNotEqual(serve.exitCode, 0)
        XCTAssertFalse(serve.timedOut)
    }

    /// Until the channel store is wired, `serve` must refuse every key: ffmpeg fails within 2 s
    /// with the status in its stderr, and SIGTERM stops the gateway cleanly.
    func testServeRefusesEveryKeyAndStopsOnSIGTERM() async throws {
        let dir = try MediaTools.temporaryDirectory("binary")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 5, in: dir)
        let port = freePorts()
        let gateway = Process()
        gateway.executableURL = URL(fileURLWithPath: gatewayBinary)
        gateway.arguments = ["serve", "--rtmp-port", "\(port)", "--http-port", "\(port + 1)"]
        gateway.environment = ["LIVEGATE_RTMP_HOST": "127.0.0.1", "LIVEGATE_HTTP_HOST": "127.0.0.1", "LIVEGATE_DATA_DIR": dir.path,
                               "PATH": "/usr/bin:/bin"]
        let logPipe = Pipe()
        gateway.standardError = logPipe
        gateway.standardOutput = FileHandle.nullDevice
        try gateway.run()
        defer { if gateway.isRunning { gateway.terminate() } }

        // Wait for the listener.
        var listening = false
        for _ in 0..<100 {
            if let c = try? await RawRTMPClient.connect(port: port) { await c.close(); listening = true; break }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTAssertTrue(listening)

        let r = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-re", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                      "rtmp://127.0.0.1:\(port)/live/ANYKEY"], timeout: 10)
        XCTAssertNotEqual(r.exitCode, 0)
        XCTAssertTrue(r.stderr.contains("NetStream.Publish.Unauthorized"), r.stderr)

        gateway.terminate() // SIGTERM
        gateway.waitUntilExit()
        XCTAssertEqual(gateway.terminationStatus, 0)
        let logs = String(decoding: logPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(logs.contains("publish rejected"), logs)
        XCTAssertTrue(logs.contains("key=ANYK…(6)"), logs)
        XCTAssertTrue(logs.contains("signal received; stopping") && logs.contains("signal=SIGTERM"), "the signal is logged when it arrives: " + logs)
        XCTAssertFalse(logs.contains("ANYKEY"), "stream keys are never logged whole")
    }

    /// The issue's "done when": a freshly started default gateway generates a token, prints it
    /// once, and `POST /v1/channels` with it answers 201 with `streamUrl` and `streamId`.
    func testFreshGatewayPrintsATokenThatCreatesChannels() async throws {
        let dir = try MediaTools.temporaryDirectory("api")
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freePorts()
        let (gateway, logFile) = try await startGateway(dir: dir, port: port, extraEnv: ["LIVEGATE_PUBLIC_HOST": "gw.example"], log: "first.log")
        defer { if gateway.isRunning { gateway.terminate() } }
        let logs = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        func value(_ key: String) -> String? {
            guard let range = logs.range(of: key + "=") else { return nil }
            return String(logs[range.upperBound...].prefix { !$0.isWhitespace })
        }
        let id = try XCTUnwrap(value("LIVE_TOKEN_ID"), logs)
        let secret = try XCTUnwrap(value("LIVE_TOKEN_SECRET"), logs)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("livegate.sqlite").path))

        let r = try await ProcessRunner.run("curl", ["-s", "-w", "\n%{http_code}", "-u", "\(id):\(secret)", "-X", "POST",
                                                     "http://127.0.0.1:\(port + 1)/v1/channels", "--json", #"{"name":"demo","userId":"u1"}"#], timeout: 10)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.last, "201", r.stdout)
        let body = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(lines.first!.utf8)) as? [String: Any])
        let data = try XCTUnwrap(body["data"] as? [String: Any])
        XCTAssertEqual(data["streamUrl"] as? String, "rtmp://gw.example:\(port)/live")
        XCTAssertNotNil(data["streamId"] as? String)
        let unauthorized = try await ProcessRunner.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}",
                                                                "http://127.0.0.1:\(port + 1)/v1/channels"], timeout: 10)
        XCTAssertEqual(unauthorized.stdout, "401")
        let metrics = try await ProcessRunner.run("curl", ["-s", "http://127.0.0.1:\(port + 1)/metrics"], timeout: 10)
        XCTAssertTrue(metrics.stdout.contains("# TYPE livegate_rtmp_connections gauge"), metrics.stdout)
        XCTAssertTrue(metrics.stdout.contains("livegate_live_channels 0"), metrics.stdout)
        gateway.terminate()
        gateway.waitUntilExit()
        XCTAssertEqual(gateway.terminationStatus, 0)

        // A restart keeps the token (stored hashed), prints no new one, and keeps the channel.
        let (second, secondLog) = try await startGateway(dir: dir, port: port, log: "second.log")
        defer { if second.isRunning { second.terminate() } }
        let list = try await ProcessRunner.run("curl", ["-s", "-u", "\(id):\(secret)", "http://127.0.0.1:\(port + 1)/v1/channels"], timeout: 10)
        XCTAssertTrue(list.stdout.contains("\"name\":\"demo\""), list.stdout)
        second.terminate()
        second.waitUntilExit()
        let secondLogs = (try? String(contentsOf: secondLog, encoding: .utf8)) ?? ""
        XCTAssertFalse(secondLogs.contains("LIVE_TOKEN_SECRET="), "the secret is printed only once")

        // Configured credentials take over: the generated token is revoked; the configured one is admin.
        let configured = ["LIVE_TOKEN_ID": "tok_ops", "LIVE_TOKEN_SECRET": "ops-secret-0123456789"]
        let (third, thirdLog) = try await startGateway(dir: dir, port: port, extraEnv: configured, log: "third.log")
        defer { if third.isRunning { third.terminate() } }
        func status(_ credentials: String, _ path: String) async throws -> String {
            try await ProcessRunner.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", credentials,
                                                 "http://127.0.0.1:\(port + 1)\(path)"], timeout: 10).stdout
        }
        let generatedNow = try await status("\(id):\(secret)", "/v1/channels")
        XCTAssertEqual(generatedNow, "401", "the generated token stops working once credentials are configured")
        let configuredNow = try await status("tok_ops:ops-secret-0123456789", "/v1/tokens")
        XCTAssertEqual(configuredNow, "200", "the configured token is admin")
        third.terminate()
        third.waitUntilExit()
        let thirdLogs = (try? String(contentsOf: thirdLog, encoding: .utf8)) ?? ""
        XCTAssertTrue(thirdLogs.contains("revoked the tokens the configured credentials replace"), thirdLogs)
        XCTAssertTrue(thirdLogs.contains(id), "names the revoked token")
    }

    /// A configured token secret shorter than 16 characters stops both commands before anything starts.
    func testAShortConfiguredTokenSecretIsRefused() async throws {
        let dir = try MediaTools.temporaryDirectory("short-secret")
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = ["LIVE_TOKEN_ID": "tok_x", "LIVE_TOKEN_SECRET": "short", "LIVEGATE_DATA_DIR": dir.path, "PATH": "/usr/bin:/bin"]
        for command in [["check-config"], ["serve", "--rtmp-port", "\(freePorts())", "--http-port", "0"]] {
            let r = try await ProcessRunner.run(gatewayBinary, command, timeout: 20, environment: env)
            XCTAssertEqual(r.exitCode, 78, "\(command): \(r.stderr)")
            XCTAssertTrue((r.stdout + r.stderr).contains("api.tokenSecret: must be at least 16 characters (it is 5)"), r.stdout + r.stderr)
        }
        let half = try await ProcessRunner.run(gatewayBinary, ["check-config"], timeout: 20,
                                               environment: ["LIVE_TOKEN_ID": "tok_x", "LIVEGATE_DATA_DIR": dir.path, "PATH": "/usr/bin:/bin"])
        XCTAssertEqual(half.exitCode, 78)
        XCTAssertTrue((half.stdout + half.stderr).contains("api.tokenSecret: must be set with api.tokenId"), half.stdout + half.stderr)
    }

    /// `kill -9` while a channel is live: the next start finds the session left live, sets it
    /// waiting for its publisher for the rest of its window (counted from the node's last lease
    /// renewal: `channel.disconnected`, `node_lost`), and — nobody coming back — closes it with
    /// `node_lost` at the window's end, sends `channel.offline`, and the API shows it offline.
    func testKill9WhileLiveEndsWithNodeLostAfterRestart() async throws {
        let dir = try MediaTools.temporaryDirectory("crash")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 5, in: dir)
        let port = freePorts()
        let setup = try await liveSetup(dir: dir, port: port, token: "crash", record: true)
        let (gateway, receiver, api, channelID, key, env, curl) = (setup.gateway, setup.receiver, setup.api, setup.channelID, setup.key, setup.env, setup.curl)
        defer { if gateway.isRunning { kill(gateway.processIdentifier, SIGKILL) } }

        let ffmpeg = Task {
            try await ProcessRunner.run("ffmpeg", ["-re", "-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                   "rtmp://127.0.0.1:\(port)/live/\(key)"], timeout: 20)
        }
        let live = await receiver.wait { $0.contains { $0.type == "channel.live" } }
        XCTAssertTrue(live)
        let during = try await curl(["\(api)/v1/channels/\(channelID)"])
        let duringData = try XCTUnwrap(during["data"] as? [String: Any])
        XCTAssertEqual(duringData["status"] as? String, "live")
        let session = try XCTUnwrap(duringData["session"] as? [String: Any])
        XCTAssertNotNil(session["startedAt"] as? String)
        XCTAssertTrue((session["encoder"] as? String)?.contains("FMLE") == true)
        XCTAssertTrue((session["remoteAddr"] as? String)?.hasPrefix("127.0.0.1:") == true)
        let sessionID = try XCTUnwrap(session["id"] as? String)
        try await Task.sleep(for: .milliseconds(2500)) // a few seconds of recording on disk
        let hlsBefore = try await ProcessRunner.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}",
                                                             "http://127.0.0.1:\(port + 1)/hls/\(channelID)/index.m3u8"], timeout: 10)
        XCTAssertEqual(hlsBefore.stdout, "200", "live: the playlist is served")
        kill(gateway.processIdentifier, SIGKILL)
        gateway.waitUntilExit()
        let publisher = try await ffmpeg.value
        XCTAssertNotEqual(publisher.exitCode, 0, "the publisher lost its server")

        let (restarted, log) = try await startGateway(dir: dir, port: port, extraEnv: env, log: "after.log")
        defer { if restarted.isRunning { restarted.terminate() } }
        let waiting = await receiver.wait { $0.contains { $0.type == "channel.disconnected" } }
        XCTAssertTrue(waiting, "the restart sets the crashed session waiting for its publisher")
        XCTAssertEqual(receiver.events("channel.disconnected").first?.reason, "node_lost")
        let offline = await receiver.wait(timeout: 20) { $0.contains { $0.type == "channel.offline" } }
        XCTAssertTrue(offline, "nobody came back: ended when the window closed")
        XCTAssertEqual(receiver.events("channel.offline").first?.reason, "node_lost")
        // The playlist kept through the window ends with the session: EXT-X-ENDLIST, so players
        // stop instead of polling a "live" playlist that never moves (gone after keepAfterEndSec).
        let hlsAfter = try await ProcessRunner.run("curl", ["-s", "-w", "\n%{http_code}",
                                                            "http://127.0.0.1:\(port + 1)/hls/\(channelID)/index.m3u8"], timeout: 10)
        XCTAssertTrue(hlsAfter.stdout.hasSuffix("200") && hlsAfter.stdout.contains("#EXT-X-ENDLIST"), hlsAfter.stdout)
        XCTAssertEqual(receiver.events("channel.offline").first?.channelId, channelID)
        XCTAssertTrue(receiver.all.allSatisfy(\.signatureValid))
        let after = try await curl(["\(api)/v1/channels/\(channelID)"])
        XCTAssertEqual((after["data"] as? [String: Any])?["status"] as? String, "offline")
        XCTAssertTrue((after["data"] as? [String: Any])?["session"] is NSNull)
        let sessions = try await curl(["\(api)/v1/channels/\(channelID)/sessions"])
        let items = (sessions["data"] as? [String: Any])?["items"] as? [[String: Any]] ?? []
        XCTAssertEqual(items.first?["reason"] as? String, "node_lost")
        let logs = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        XCTAssertTrue(logs.contains("node_lost"), logs)

        // The recording the crash interrupted is finished at start-up: a playable MP4, on record,
        // announced with video.ready — and no .part left behind.
        let ready = await receiver.wait { $0.contains { $0.type == "video.ready" } }
        XCTAssertTrue(ready, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
        let videos = try await curl(["\(api)/v1/videos"])
        let video = try XCTUnwrap(((videos["data"] as? [String: Any])?["items"] as? [[String: Any]])?.first, "\(videos)")
        XCTAssertEqual(video["sessionId"] as? String, sessionID)
        XCTAssertEqual(video["channelId"] as? String, channelID)
        XCTAssertEqual(video["userId"] as? String, "u1")
        XCTAssertGreaterThan(video["durationSec"] as? Double ?? 0, 1.0, "the seconds before the crash")
        let recordings = dir.appendingPathComponent("recordings/\(channelID)")
        // Beside it at most its poster (made on the thumbnail pool once it is on record).
        let files = try FileManager.default.contentsOfDirectory(atPath: recordings.path).filter { !$0.hasSuffix(".mp4.jpg") }
        XCTAssertEqual(files, ["\(sessionID).mp4"])
        let streams = try await MediaTools.probe(recordings.appendingPathComponent("\(sessionID).mp4"))
        XCTAssertGreaterThan(streams.first { $0.codecType == "video" }?.packets ?? 0, 25, "over a second of video survived")
        XCTAssertEqual(streams.first { $0.codecType == "video" }?.codecName, "h264")
        XCTAssertTrue(((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains("recovered a recording"))
        restarted.terminate()
        restarted.waitUntilExit()
        XCTAssertEqual(restarted.terminationStatus, 0)
        await receiver.stop()
    }

    /// Issue #21 item 4: `POST /v1/system/drain` — the node refuses new publishes at once
    /// (`Publish.Rejected`, and `/readyz/ingest` 503 so the balancer moves new connections),
    /// keeps its publisher for `shutdown.drainSec`, then stops like at a SIGTERM: the session
    /// handed over (`channel.disconnected`, reason `shutdown`), the process exiting 0.
    func testADrainRefusesNewPublishesThenStopsHandingItsSessionOver() async throws {
        let dir = try MediaTools.temporaryDirectory("drain")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 2, in: dir)
        let port = freePorts()
        let setup = try await liveSetup(dir: dir, port: port, token: "drain", extraEnv: ["LIVEGATE_SHUTDOWN_DRAIN_SEC": "3"])
        let (gateway, receiver, api) = (setup.gateway, setup.receiver, setup.api)
        defer { if gateway.isRunning { kill(gateway.processIdentifier, SIGKILL) } }
        let created = try await setup.curl(["-X", "POST", "\(api)/v1/channels", "--json", #"{"name":"other","userId":"u1"}"#])
        let other = try XCTUnwrap(created["data"] as? [String: Any], "\(created)")
        let otherKey = try XCTUnwrap(other["streamId"] as? String)
        let publisher = try startPublisher(clip, url: "rtmp://127.0.0.1:\(port)/live/\(setup.key)", seconds: 60)
        defer { if publisher.isRunning { kill(publisher.processIdentifier, SIGKILL) } }
        let live = await receiver.wait { $0.contains { $0.type == "channel.live" } }
        XCTAssertTrue(live)
        let ready = try await ProcessRunner.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "\(api)/readyz/ingest"], timeout: 10)
        XCTAssertEqual(ready.stdout, "200")

        let started = Date()
        let drained = try await setup.curl(["-X", "POST", "\(api)/v1/system/drain"])
        let data = try XCTUnwrap(drained["data"] as? [String: Any], "\(drained)")
        XCTAssertEqual(data["draining"] as? Bool, true)
        XCTAssertEqual(data["publishers"] as? Int, 1)
        let refused = try await ProcessRunner.run("curl", ["-s", "-w", "\n%{http_code}", "\(api)/readyz/ingest"], timeout: 10)
        XCTAssertTrue(refused.stdout.hasSuffix("503") && refused.stdout.contains("draining"), refused.stdout)
        // A new publish is refused while the old one goes on.
        let late = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                          "rtmp://127.0.0.1:\(port)/live/\(otherKey)"], timeout: 20)
        XCTAssertNotEqual(late.exitCode, 0, "refused while draining")
        XCTAssertTrue(publisher.isRunning, "the carried publisher is kept during the drain")

        // Then the node stops by itself, the session handed over.
        let exited = await eventually(15) { !gateway.isRunning }
        XCTAssertTrue(exited)
        XCTAssertEqual(gateway.terminationStatus, 0)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 2.5, "kept its publisher for the drain")
        let log = (try? String(contentsOf: dir.appendingPathComponent("before.log"), encoding: .utf8)) ?? ""
        XCTAssertTrue(log.contains("publish refused: this node is draining"), log)
        XCTAssertTrue(log.contains("session handed over"), log)
        let disconnected = await receiver.wait { $0.contains { $0.type == "channel.disconnected" } }
        XCTAssertTrue(disconnected)
        XCTAssertEqual(receiver.events("channel.disconnected").first?.reason, "shutdown")
        XCTAssertFalse(receiver.all.contains { $0.type == "channel.offline" }, "handed over, not ended")
        await receiver.stop()
    }

    /// SIGTERM while live hands the session over instead of ending it (docs/contract.md §6): exit
    /// 0, `channel.disconnected` (reason `shutdown`), the recording finished as a part and
    /// recorded before the exit. After the restart the same key inside the window continues the
    /// same session — `channel.reconnected`, no offline/live pair, a second recorded part — and
    /// one `channel.offline` comes at its real end.
    func testSIGTERMHandsTheSessionOverAndARestartContinuesIt() async throws {
        let dir = try MediaTools.temporaryDirectory("sigterm")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 4, in: dir)
        let port = freePorts()
        let setup = try await liveSetup(dir: dir, port: port, token: "t")
        let (gateway, receiver, key, env) = (setup.gateway, setup.receiver, setup.key, setup.env)
        defer { if gateway.isRunning { kill(gateway.processIdentifier, SIGKILL) } }
        _ = try await setup.curl(["-X", "PATCH", "\(setup.api)/v1/channels/\(setup.channelID)", "--json", #"{"record":true,"reconnectWindowSec":60}"#])
        let publish: @Sendable () async throws -> ProcessResult = {
            try await ProcessRunner.run("ffmpeg", ["-re", "-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                   "rtmp://127.0.0.1:\(port)/live/\(key)"], timeout: 20)
        }
        let first = Task { try await publish() }
        let live = await receiver.wait { $0.contains { $0.type == "channel.live" } }
        XCTAssertTrue(live)
        try await Task.sleep(for: .milliseconds(1500)) // some media recorded
        gateway.terminate()
        gateway.waitUntilExit()
        XCTAssertEqual(gateway.terminationStatus, 0)
        _ = try await first.value
        let log = (try? String(contentsOf: dir.appendingPathComponent("before.log"), encoding: .utf8)) ?? ""
        XCTAssertTrue(log.contains("session handed over"), log)
        // The playlist is kept as it was: the session has not ended (no EXT-X-ENDLIST).
        let playlistFile = dir.appendingPathComponent("hls/\(setup.channelID)/index.m3u8")
        let kept = try String(contentsOf: playlistFile, encoding: .utf8)
        XCTAssertTrue(kept.contains("#EXTINF") && !kept.contains("#EXT-X-ENDLIST"), kept)
        let sequenceBefore = try XCTUnwrap(kept.split(separator: "\n").first { $0.hasPrefix("#EXT-X-MEDIA-SEQUENCE:") }
            .flatMap { Int($0.split(separator: ":")[1]) }, kept)
        // A fleet's logs join: the lifecycle line names the node and the RTMP connection the
        // listener's lines name.
        let liveLine = try XCTUnwrap(log.split(separator: "\n").first { $0.contains("] channel live") }, log)
        XCTAssertTrue(liveLine.contains("node.id=node-t"), String(liveLine))
        let connection = try XCTUnwrap(liveLine.range(of: #"rtmp\.connection\.id=\d+"#, options: .regularExpression).map { String(liveLine[$0]) }, String(liveLine))
        XCTAssertTrue(log.split(separator: "\n").contains { $0.contains("[livegate.rtmp]") && ($0.contains(connection + " ") || $0.hasSuffix(connection)) },
                      "an RTMP line with \(connection)")

        let (restarted, _) = try await startGateway(dir: dir, port: port, extraEnv: env, log: "after.log")
        defer { if restarted.isRunning { restarted.terminate() } }
        let after = (try? String(contentsOf: dir.appendingPathComponent("after.log"), encoding: .utf8)) ?? ""
        XCTAssertTrue(after.contains("session resumed after the restart"), after)
        let disconnected = await receiver.wait { $0.contains { $0.type == "channel.disconnected" } }
        XCTAssertTrue(disconnected)
        XCTAssertTrue(receiver.events("channel.disconnected").first?.body.contains(#""reason":"shutdown""#) == true,
                      receiver.events("channel.disconnected").first?.body ?? "")
        let status = try await setup.curl(["\(setup.api)/v1/channels/\(setup.channelID)"])
        XCTAssertEqual((status["data"] as? [String: Any])?["status"] as? String, "reconnecting", "the window is open across the restart")
        let waiting = try await setup.curl(["\(setup.api)/v1/channels?status=reconnecting"])
        XCTAssertEqual(((waiting["data"] as? [String: Any])?["items"] as? [[String: Any]])?.compactMap { $0["id"] as? String }, [setup.channelID],
                       "and ?status=reconnecting lists it")

        // While it waits, the restarted node still serves the playlist (not ended).
        let waitingPlaylist = try await ProcessRunner.run("curl", ["-s", "-w", "\n%{http_code}", "\(setup.api)/hls/\(setup.channelID)/index.m3u8"], timeout: 10)
        XCTAssertTrue(waitingPlaylist.stdout.hasSuffix("200") && !waitingPlaylist.stdout.contains("#EXT-X-ENDLIST"), waitingPlaylist.stdout)

        // The publisher comes back to the restarted node: the same session, its playlist going
        // on after a discontinuity with a media sequence past the first run's.
        let second = Task { try await publish() }
        var continued = ""
        let numbered = await eventually(15, every: .milliseconds(200)) {
            continued = (try? String(contentsOf: playlistFile, encoding: .utf8)) ?? ""
            return continued.contains("#EXT-X-DISCONTINUITY") && continued.contains("#EXTINF")
        }
        XCTAssertTrue(numbered, continued)
        let sequenceAfter = continued.split(separator: "\n").first { $0.hasPrefix("#EXT-X-MEDIA-SEQUENCE:") }.flatMap { Int($0.split(separator: ":")[1]) }
        XCTAssertGreaterThan(sequenceAfter ?? -1, sequenceBefore, continued)
        let secondRun = try await second.value
        XCTAssertEqual(secondRun.exitCode, 0, secondRun.stderr)
        let ended = await receiver.wait(timeout: 20) { $0.contains { $0.type == "channel.offline" } }
        XCTAssertTrue(ended)
        let lifecycle = receiver.all.filter { $0.channelId == setup.channelID && $0.type.hasPrefix("channel.") && $0.type != "channel.media" }.map(\.type)
        XCTAssertEqual(lifecycle, ["channel.live", "channel.disconnected", "channel.reconnected", "channel.offline"])
        XCTAssertEqual(receiver.events("channel.offline").map(\.reason), ["unpublished"])
        let sessions = try await setup.curl(["\(setup.api)/v1/channels/\(setup.channelID)/sessions"])
        let items = (sessions["data"] as? [String: Any])?["items"] as? [[String: Any]] ?? []
        XCTAssertEqual(items.count, 1, "one session across the restart: \(sessions)")
        XCTAssertEqual((items.first?["connections"] as? [[String: Any]])?.map { $0["endReason"] as? String }, ["shutdown", "unpublished"])
        // Both parts recorded, each a playable MP4.
        let ready = await receiver.wait(timeout: 20) { $0.filter { $0.type == "video.ready" }.count >= 2 }
        XCTAssertTrue(ready, "\(receiver.all.map(\.type))")
        let recordings = dir.appendingPathComponent("recordings/\(setup.channelID)")
        // The `.part` goes once its video is on record (just after video.ready is written).
        var files: [String] = []
        for _ in 0..<50 {
            files = try FileManager.default.contentsOfDirectory(atPath: recordings.path)
            if !files.contains(where: { $0.hasSuffix(".part") }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTAssertEqual(files.filter { $0.hasSuffix(".mp4") }.count, 2, "\(files)")
        XCTAssertFalse(files.contains { $0.hasSuffix(".part") }, "\(files)")
        for mp4 in files where mp4.hasSuffix(".mp4") {
            let streams = try await MediaTools.probe(path: recordings.appendingPathComponent(mp4).path)
            XCTAssertGreaterThan(streams.first { $0.codecType == "video" }?.packets ?? 0, 0, mp4)
        }
        restarted.terminate()
        restarted.waitUntilExit()
        await receiver.stop()
    }

    /// A handed-over session nobody comes back to ends when its window closes — after the
    /// restart — with `shutdown`, dated when the gateway let its publisher go.
    func testAHandedOverSessionNobodyResumesEndsWithShutdownAtTheStop() async throws {
        let dir = try MediaTools.temporaryDirectory("sigterm-gone")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 4, in: dir)
        let port = freePorts()
        let setup = try await liveSetup(dir: dir, port: port, token: "g")
        let (gateway, receiver, key, env) = (setup.gateway, setup.receiver, setup.key, setup.env)
        defer { if gateway.isRunning { kill(gateway.processIdentifier, SIGKILL) } }
        _ = try await setup.curl(["-X", "PATCH", "\(setup.api)/v1/channels/\(setup.channelID)", "--json", #"{"reconnectWindowSec":4}"#])
        let first = Task {
            try await ProcessRunner.run("ffmpeg", ["-re", "-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                   "rtmp://127.0.0.1:\(port)/live/\(key)"], timeout: 20)
        }
        let live = await receiver.wait { $0.contains { $0.type == "channel.live" } }
        XCTAssertTrue(live)
        try await Task.sleep(for: .milliseconds(500))
        let stoppedAt = Date()
        gateway.terminate()
        gateway.waitUntilExit()
        _ = try await first.value
        let (restarted, _) = try await startGateway(dir: dir, port: port, extraEnv: env, log: "after.log")
        defer { if restarted.isRunning { restarted.terminate() } }
        let offline = await receiver.wait(timeout: 20) { $0.contains { $0.type == "channel.offline" } }
        XCTAssertTrue(offline)
        XCTAssertEqual(receiver.events("channel.offline").map(\.reason), ["shutdown"])
        let sessions = try await setup.curl(["\(setup.api)/v1/channels/\(setup.channelID)/sessions"])
        let session = ((sessions["data"] as? [String: Any])?["items"] as? [[String: Any]])?.first
        let endedAt = try XCTUnwrap((session?["endedAt"] as? String).map(Timestamp.parse))
        XCTAssertEqual(endedAt.timeIntervalSince(stoppedAt), 0, accuracy: 1.5, "dated at the stop, not at the window's close after the restart")
        restarted.terminate()
        restarted.waitUntilExit()
        await receiver.stop()
    }

    /// HTTPS for the API (and RTMPS) from configured PEM files, on a real binary.
    func testHTTPSAndRTMPSWithConfiguredCertificate() async throws {
        let dir = try MediaTools.temporaryDirectory("https")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (cert, key) = try await MediaTools.selfSignedCertificate(in: dir)
        let port = freePorts()
        let (gateway, log) = try await startGateway(dir: dir, port: port, extraEnv: [
            "LIVEGATE_HTTP_TLS_CERTIFICATE": cert, "LIVEGATE_HTTP_TLS_KEY": key,
            "LIVEGATE_RTMP_TLS_CERTIFICATE": cert, "LIVEGATE_RTMP_TLS_KEY": key, "LIVEGATE_RTMP_TLS_PORT": "\(port + 2)",
        ], log: "tls.log")
        defer { if gateway.isRunning { gateway.terminate() } }
        let https = try await ProcessRunner.run("curl", ["-sk", "-o", "/dev/null", "-w", "%{http_code}", "https://127.0.0.1:\(port + 1)/healthz"], timeout: 10)
        XCTAssertEqual(https.stdout, "200")
        let plain = try await ProcessRunner.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port + 1)/healthz"], timeout: 10)
        XCTAssertNotEqual(plain.stdout, "200", "plain HTTP is not served when TLS is on")
        let logs = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        XCTAssertTrue(logs.contains("RTMPS listener started"), logs)
        gateway.terminate()
        gateway.waitUntilExit()
        XCTAssertEqual(gateway.terminationStatus, 0)
    }
}
