import Foundation
import LiveGateModel
import TestSupport
import XCTest

/// docs/contract.md §3 end to end on the real binary: ffmpeg publishes, and the HLS served over HTTP, the
/// MP4 listed under /v1/videos and the copy pushed to a forward target are all checked with
/// ffprobe; a stalled forward target and a killed publisher harm nothing.
final class MediaOutputsTests: XCTestCase {
    func data(_ json: [String: Any]) -> [String: Any] { json["data"] as? [String: Any] ?? [:] }

    func http(_ args: [String]) async throws -> (status: Int, headers: String, body: Data, seconds: Double) {
        let dir = FileManager.default.temporaryDirectory
        let out = dir.appendingPathComponent("body-\(UUID().uuidString)"), head = dir.appendingPathComponent("head-\(UUID().uuidString)")
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: head)
        }
        let r = try await ProcessRunner.run("curl", ["-s", "-o", out.path, "-D", head.path, "-w", "%{http_code} %{time_total}"] + args, timeout: 20)
        let written = r.stdout.split(separator: " ")
        return (Int(written.first ?? "") ?? 0, (try? String(contentsOf: head, encoding: .utf8)) ?? "", (try? Data(contentsOf: out)) ?? Data(),
                written.count > 1 ? Double(written[1]) ?? 0 : 0)
    }

    func header(_ name: String, in headers: String) -> String? {
        headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix(name.lowercased() + ":") }
            .map { String($0.split(separator: ":", maxSplits: 1)[1]).trimmingCharacters(in: .whitespaces) }
    }

    func testPublishYieldsHLSARecordingAndAForwardCopy() async throws {
        let dir = try MediaTools.temporaryDirectory("outputs")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 12, in: dir) // long enough that the live-state checks below never race its end on a busy machine
        let source = try await MediaTools.probe(clip)
        let sourceDuration = try await MediaTools.duration(clip.path)
        let port = freePorts(), forwardPort = port + 2
        // The forward target: ffmpeg as a one-shot RTMP server, saving what it receives.
        let forwarded = dir.appendingPathComponent("forwarded.flv")
        let target = Task {
            try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-listen", "1", "-i", "rtmp://127.0.0.1:\(forwardPort)/live/fwdkey",
                                                   "-c", "copy", "-f", "flv", "-y", forwarded.path], timeout: 60)
        }
        let setup = try await liveSetup(dir: dir, port: port, token: "media")
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        let (api, channel, curl) = (setup.api, setup.channelID, setup.curl)
        _ = try await curl(["-X", "PATCH", "\(api)/v1/channels/\(channel)", "--json", #"{"record":true}"#])
        let fwd = try await curl(["-X", "POST", "\(api)/v1/channels/\(channel)/forwards", "--json", #"{"url":"rtmp://127.0.0.1:\#(forwardPort)/live/fwdkey"}"#])
        let forwardID = try XCTUnwrap(data(fwd)["id"] as? String, "\(fwd)")

        let publisher = Task {
            try await ProcessRunner.run("ffmpeg", ["-re", "-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                   "rtmp://127.0.0.1:\(port)/live/\(setup.key)"], timeout: 30)
        }
        // The live-state checks come first, while the 12 s publish surely runs (a CI machine
        // under load once took longer than the rest of the clip to probe a segment, and once
        // to list the first segment); the forward is polled until it has connected. Their
        // bounds count from `channel.live`, not from ffmpeg's spawn: in one CI run the test took
        // 13 s longer than usual and the outputs missed both 5 s polls, yet every frame was
        // recorded and forwarded — a publisher slow to start is not an output slow to start.
        let live = await setup.receiver.wait(timeout: 30) { $0.contains { $0.type == "channel.live" } }
        XCTAssertTrue(live, "the publish went live\(gatewayLog(dir, last: 80))")
        var stats: [String: Any] = [:]
        for _ in 0..<50 {
            stats = data(try await curl(["\(api)/v1/channels/\(channel)/stats"]))
            if (stats["outputs"] as? [[String: Any]])?.count == 3 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let outputs = stats["outputs"] as? [[String: Any]] ?? []
        XCTAssertEqual(outputs.compactMap { $0["kind"] as? String }.sorted(), ["forward", "hls", "record"], "\(stats)\(gatewayLog(dir, last: 80))")
        var forwards: [String: Any] = [:]
        var forwardStatus: [String: Any]?
        for _ in 0..<50 {
            forwards = data(try await curl(["\(api)/v1/channels/\(channel)/forwards"]))
            forwardStatus = ((forwards["items"] as? [[String: Any]])?.first?["status"] as? [String: Any])
            if forwardStatus?["state"] as? String == "running" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTAssertEqual(forwardStatus?["state"] as? String, "running", "\(forwards)")
        let metrics = String(data: try await http(["\(api)/metrics"]).body, encoding: .utf8) ?? ""
        for kind in ["hls", "record"] {
            XCTAssertTrue(metrics.contains("livegate_output_up{channel=\"\(channel)\",output=\"\(kind)\"} 1"), metrics)
        }
        XCTAssertTrue(metrics.contains("livegate_output_dropped_packets_total{channel=\"\(channel)\",output=\"forward\",forward=\"\(forwardID)\"} 0"), metrics)
        XCTAssertFalse(metrics.contains("fwdkey"), "no target URL or key in metrics")
        // Still live: the playlist is served, uncached, and its segments play.
        var playlist = ""
        var headers = ""
        for _ in 0..<100 {
            let r = try await http(["\(api)/hls/\(channel)/index.m3u8"])
            if r.status == 200, let text = String(data: r.body, encoding: .utf8), text.contains("#EXTINF") {
                (playlist, headers) = (text, r.headers)
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTAssertTrue(playlist.contains("#EXTINF"), "a playlist with a segment while live")
        XCTAssertEqual(header("content-type", in: headers), "application/vnd.apple.mpegurl")
        XCTAssertTrue(header("cache-control", in: headers)?.contains("no-cache") == true, headers)
        let segment = try XCTUnwrap(playlist.split(separator: "\n").first { $0.hasSuffix(".ts") })
        let segmentStreams = try await MediaTools.probe(path: "\(api)/hls/\(channel)/\(segment)")
        XCTAssertEqual(segmentStreams.map(\.codecName).sorted(), ["aac", "h264"])
        XCTAssertEqual(segmentStreams.first { $0.codecType == "video" }?.packets, 50, "a 2 s segment at 25 fps")

        let published = try await publisher.value
        XCTAssertEqual(published.exitCode, 0, published.stderr)
        let ready = await setup.receiver.wait(timeout: 15) { $0.contains { $0.type == "video.ready" } }
        XCTAssertTrue(ready)

        // The recording: listed, as long as the source, every frame, downloadable with Range.
        let videos = data(try await curl(["\(api)/v1/videos"]))
        let video = try XCTUnwrap((videos["items"] as? [[String: Any]])?.first, "\(videos)")
        let videoID = try XCTUnwrap(video["id"] as? String)
        XCTAssertEqual(video["channelId"] as? String, channel)
        XCTAssertEqual(video["videoCodec"] as? String, "h264")
        XCTAssertEqual(video["width"] as? Int, 320)
        XCTAssertEqual(try XCTUnwrap(video["durationSec"] as? Double), sourceDuration, accuracy: 0.5)
        let mp4 = dir.appendingPathComponent("download.mp4")
        let download = try await ProcessRunner.run("curl", ["-s", "-f", "-u", "tok_media:media-secret-0123456789", "-o", mp4.path, "\(api)/v1/videos/\(videoID)/file"], timeout: 20)
        XCTAssertEqual(download.exitCode, 0)
        let recorded = try await MediaTools.probe(mp4)
        XCTAssertEqual(recorded.first { $0.codecType == "video" }?.packets, source.first { $0.codecType == "video" }?.packets)
        XCTAssertEqual(recorded.first { $0.codecType == "audio" }?.packets ?? 0, source.first { $0.codecType == "audio" }?.packets ?? 0, accuracy: 2)
        let recordedDuration = try await MediaTools.duration(mp4.path)
        XCTAssertEqual(recordedDuration, sourceDuration, accuracy: 0.5)
        let size = try XCTUnwrap(video["sizeBytes"] as? Int)
        let ranged = try await http(["-u", "tok_media:media-secret-0123456789", "-H", "Range: bytes=100-199", "\(api)/v1/videos/\(videoID)/file"])
        XCTAssertEqual(ranged.status, 206)
        XCTAssertEqual(ranged.body.count, 100)
        XCTAssertEqual(header("content-range", in: ranged.headers), "bytes 100-199/\(size)")
        XCTAssertEqual(ranged.body, try Data(contentsOf: mp4).subdata(in: 100..<200))
        let beyond = try await http(["-u", "tok_media:media-secret-0123456789", "-H", "Range: bytes=\(size)-", "\(api)/v1/videos/\(videoID)/file"])
        XCTAssertEqual(beyond.status, 416)

        // The forward target received the stream.
        let targetRun = try await target.value
        XCTAssertEqual(targetRun.exitCode, 0, targetRun.stderr)
        let copy = try await MediaTools.probe(forwarded)
        XCTAssertEqual(copy.first { $0.codecType == "video" }?.packets, source.first { $0.codecType == "video" }?.packets, "every video frame forwarded")
        XCTAssertEqual(copy.first { $0.codecType == "audio" }?.packets ?? 0, source.first { $0.codecType == "audio" }?.packets ?? 0, accuracy: 2)
        _ = forwardID

        // After the session: the playlist has ended (kept for hls.keepAfterEndSec); the video
        // can be deleted with its file.
        let ended = try await http(["\(api)/hls/\(channel)/index.m3u8"])
        XCTAssertEqual(ended.status, 200)
        XCTAssertTrue((String(data: ended.body, encoding: .utf8) ?? "").hasSuffix("#EXT-X-ENDLIST\n"), "players finish instead of erroring")
        let deleted = try await http(["-u", "tok_media:media-secret-0123456789", "-X", "DELETE", "\(api)/v1/videos/\(videoID)"])
        XCTAssertEqual(deleted.status, 204)
        let afterDelete = try await http(["-u", "tok_media:media-secret-0123456789", "\(api)/v1/videos/\(videoID)"])
        XCTAssertEqual(afterDelete.status, 404)
        XCTAssertTrue(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("recordings/\(channel)").path).isEmpty)
        setup.gateway.terminate()
        setup.gateway.waitUntilExit()
        XCTAssertEqual(setup.gateway.terminationStatus, 0)
        await setup.receiver.stop()
    }

    /// A forward target that accepts the connection and never reads must not slow its own
    /// publisher, another channel's HLS, or the API; it ends in `forward.failed`.
    func testAStalledForwardTargetHarmsNothingElse() async throws {
        let dir = try MediaTools.temporaryDirectory("stalled")
        defer { try? FileManager.default.removeItem(at: dir) }
        defer { if testRun?.hasSucceeded == false { print((try? String(contentsOf: dir.appendingPathComponent("before.log"), encoding: .utf8)) ?? "") } }
        let clip = try await MediaTools.makeClip(seconds: 8, in: dir)
        let stalled = try await StalledTCPServer.start()
        let port = freePorts()
        let setup = try await liveSetup(dir: dir, port: port, token: "stall", extraEnv: ["LIVEGATE_FORWARDS_TIMEOUT_SEC": "1"])
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        let (api, curl) = (setup.api, setup.curl)
        let stalledChannel = setup.channelID
        _ = try await curl(["-X", "PATCH", "\(api)/v1/channels/\(stalledChannel)", "--json", #"{"hls":false}"#])
        _ = try await curl(["-X", "POST", "\(api)/v1/channels/\(stalledChannel)/forwards", "--json", #"{"url":"rtmp://127.0.0.1:\#(stalled.port)/live/x"}"#])
        let other = data(try await curl(["-X", "POST", "\(api)/v1/channels", "--json", #"{"name":"other","userId":"u2"}"#]))
        let otherID = try XCTUnwrap(other["id"] as? String), otherKey = try XCTUnwrap(other["streamId"] as? String)

        func publish(_ key: String) -> Task<ProcessResult, any Error> {
            Task {
                try await ProcessRunner.run("ffmpeg", ["-re", "-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                       "rtmp://127.0.0.1:\(port)/live/\(key)"], timeout: 40)
            }
        }
        let a = publish(setup.key), b = publish(otherKey)
        var segments = 0
        var unanswered = 0
        for _ in 0..<60 {
            // Timed by curl itself (process start-up on a busy machine is not the server's).
            let r = try await http(["\(api)/hls/\(otherID)/index.m3u8"])
            if r.status == 0 { unanswered += 1 }
            if r.status == 200 { segments = (String(data: r.body, encoding: .utf8) ?? "").components(separatedBy: "#EXTINF").count - 1 }
            if segments >= 3 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTAssertGreaterThanOrEqual(segments, 3, "the other channel's HLS keeps cutting segments")
        XCTAssertEqual(unanswered, 0, "HLS/API answer every request (a blocked event loop would leave curl waiting out its 20 s)")
        let stats = data(try await curl(["\(api)/v1/channels/\(stalledChannel)/stats"]))
        let forward = (stats["outputs"] as? [[String: Any]])?.first { $0["kind"] as? String == "forward" }
        XCTAssertNotEqual(forward?["state"] as? String, "running", "\(stats)")
        let (ra, rb) = (try await a.value, try await b.value)
        XCTAssertEqual(ra.exitCode, 0, ra.stderr)
        XCTAssertEqual(rb.exitCode, 0, rb.stderr)
        // A publisher held up by its stalled forward would block on its socket until the 40 s timeout.
        XCTAssertFalse(ra.timedOut, "the stalled channel's own publisher was never held up")
        XCTAssertFalse(rb.timedOut)
        let failed = await setup.receiver.wait(timeout: 10) { $0.contains { $0.type == "forward.failed" } }
        XCTAssertTrue(failed, "forward.failed after repeated failure")
        let body = setup.receiver.events("forward.failed").first?.body ?? ""
        XCTAssertTrue(body.contains("127.0.0.1:\(stalled.port)/live/"), body)
        let offline = await setup.receiver.wait(timeout: 10) { $0.filter { $0.type == "channel.offline" }.count == 2 }
        XCTAssertTrue(offline)
        setup.gateway.terminate()
        setup.gateway.waitUntilExit()
        XCTAssertEqual(setup.gateway.terminationStatus, 0)
        await stalled.stop()
        await setup.receiver.stop()
    }

    /// A healthy forward target that goes away mid-stream is reconnected when it comes back,
    /// and the new target receives the stream (from a keyframe).
    func testAForwardTargetThatDropsMidStreamIsReconnected() async throws {
        let dir = try MediaTools.temporaryDirectory("reconnect")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 12, in: dir)
        let port = freePorts(4), forwardPort = port + 3
        let setup = try await liveSetup(dir: dir, port: port, token: "recon")
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        _ = try await setup.curl(["-X", "PATCH", "\(setup.api)/v1/channels/\(setup.channelID)", "--json", #"{"hls":false}"#])
        _ = try await setup.curl(["-X", "POST", "\(setup.api)/v1/channels/\(setup.channelID)/forwards",
                                  "--json", #"{"url":"rtmp://127.0.0.1:\#(forwardPort)/live/fwd"}"#])
        func target(_ name: String, seconds: Double) -> Task<ProcessResult, any Error> {
            Task {
                try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-listen", "1", "-i", "rtmp://127.0.0.1:\(forwardPort)/live/fwd",
                                                       "-c", "copy", "-f", "flv", "-y", dir.appendingPathComponent(name).path],
                                            timeout: seconds, timeoutSignal: SIGKILL)
            }
        }
        let first = target("first.flv", seconds: 4) // killed mid-stream: the push loses its server
        try await Task.sleep(for: .milliseconds(300))
        let publisher = Task {
            try await ProcessRunner.run("ffmpeg", ["-re", "-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                   "rtmp://127.0.0.1:\(port)/live/\(setup.key)"], timeout: 40)
        }
        let killed = try await first.value
        XCTAssertTrue(killed.timedOut, "the first target ran until it was killed")
        let second = target("second.flv", seconds: 30)
        let published = try await publisher.value
        XCTAssertEqual(published.exitCode, 0, "the publisher never noticed: \(published.stderr)")
        _ = try await second.value
        let copy = try await MediaTools.probe(dir.appendingPathComponent("second.flv"))
        XCTAssertGreaterThan(copy.first { $0.codecType == "video" }?.packets ?? 0, 50, "the reconnected push carried seconds of video")
        setup.gateway.terminate()
        setup.gateway.waitUntilExit()
        await setup.receiver.stop()
    }

    /// An `rtmps://` forward to a second LiveGate's RTMPS listener: the certificate is verified
    /// against the CA file, and the second gateway records every frame of the pushed stream.
    /// Without the CA (system trust only) the same self-signed target is refused.
    func testForwardOverRTMPSIsVerifiedAndReachesASecondGateway() async throws {
        let dir = try MediaTools.temporaryDirectory("rtmps-fwd")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 5, in: dir)
        let source = try await MediaTools.probe(clip)
        let (certificate, key) = try await MediaTools.selfSignedCertificate(in: dir)
        let port = freePorts(6), targetPort = port + 3, targetTLSPort = port + 5
        // The target: a second gateway with RTMPS, recording what it receives.
        let targetDir = dir.appendingPathComponent("target")
        try FileManager.default.createDirectory(at: targetDir, withIntermediateDirectories: true)
        let (target, targetLog) = try await startGateway(dir: targetDir, port: targetPort, extraEnv: [
            "LIVE_TOKEN_ID": "tok_t", "LIVE_TOKEN_SECRET": "t-secret-0123456789", "LIVEGATE_RTMP_TLS_PORT": "\(targetTLSPort)",
            "LIVEGATE_RTMP_TLS_CERTIFICATE": certificate, "LIVEGATE_RTMP_TLS_KEY": key,
        ], log: "target.log")
        defer { if target.isRunning { kill(target.processIdentifier, SIGKILL) } }
        let targetAPI = "http://127.0.0.1:\(targetPort + 1)"
        func targetCurl(_ args: [String]) async throws -> [String: Any] {
            let r = try await ProcessRunner.run("curl", ["-s", "-u", "tok_t:t-secret-0123456789"] + args, timeout: 10)
            return (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
        }
        let targetChannel = data(try await targetCurl(["-X", "POST", "\(targetAPI)/v1/channels", "--json", #"{"name":"t","userId":"u","record":true,"hls":false}"#]))
        let targetKey = try XCTUnwrap(targetChannel["streamId"] as? String, "\(targetChannel)")

        // The source gateway trusts the target's self-signed certificate through its CA file.
        let setup = try await liveSetup(dir: dir, port: port, token: "tlsfwd", extraEnv: ["LIVEGATE_FORWARDS_TLS_CA_FILE": certificate])
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        _ = try await setup.curl(["-X", "PATCH", "\(setup.api)/v1/channels/\(setup.channelID)", "--json", #"{"hls":false}"#])
        let forward = try await setup.curl(["-X", "POST", "\(setup.api)/v1/channels/\(setup.channelID)/forwards",
                                            "--json", #"{"url":"rtmps://127.0.0.1:\#(targetTLSPort)/live/\#(targetKey)"}"#])
        XCTAssertNotNil(data(forward)["id"], "\(forward)")
        let published = try await ProcessRunner.run("ffmpeg", ["-re", "-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                               "rtmp://127.0.0.1:\(port)/live/\(setup.key)"], timeout: 30)
        XCTAssertEqual(published.exitCode, 0, published.stderr)

        // The target's recording holds every frame the publisher sent.
        var videos: [[String: Any]] = []
        for _ in 0..<100 where videos.isEmpty {
            videos = data(try await targetCurl(["\(targetAPI)/v1/videos"]))["items"] as? [[String: Any]] ?? []
            if videos.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        }
        let videoID = try XCTUnwrap(videos.first?["id"] as? String, (try? String(contentsOf: targetLog, encoding: .utf8)) ?? "")
        let downloaded = dir.appendingPathComponent("target-copy.mp4")
        _ = try await ProcessRunner.run("curl", ["-s", "-u", "tok_t:t-secret-0123456789", "-o", downloaded.path, "\(targetAPI)/v1/videos/\(videoID)/file"], timeout: 20)
        let copy = try await MediaTools.probe(downloaded)
        XCTAssertEqual(copy.first { $0.codecType == "video" }?.packets, source.first { $0.codecType == "video" }?.packets, "every video frame over RTMPS")
        let targetLogText = (try? String(contentsOf: targetLog, encoding: .utf8)) ?? ""
        XCTAssertTrue(targetLogText.contains("transport=rtmps"), "arrived on the TLS listener")
        setup.gateway.terminate()
        setup.gateway.waitUntilExit()
        await setup.receiver.stop()

        // Same target, no CA file: the system trust store does not know the certificate.
        let strictDir = dir.appendingPathComponent("strict")
        try FileManager.default.createDirectory(at: strictDir, withIntermediateDirectories: true)
        let strict = try await liveSetup(dir: strictDir, port: port, token: "strict")
        defer { if strict.gateway.isRunning { kill(strict.gateway.processIdentifier, SIGKILL) } }
        _ = try await strict.curl(["-X", "PATCH", "\(strict.api)/v1/channels/\(strict.channelID)", "--json", #"{"hls":false}"#])
        _ = try await strict.curl(["-X", "POST", "\(strict.api)/v1/channels/\(strict.channelID)/forwards",
                                   "--json", #"{"url":"rtmps://127.0.0.1:\#(targetTLSPort)/live/\#(targetKey)"}"#])
        let refused = Task {
            try await ProcessRunner.run("ffmpeg", ["-re", "-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                   "rtmp://127.0.0.1:\(port)/live/\(strict.key)"], timeout: 30)
        }
        var lastError = ""
        for _ in 0..<60 where lastError.isEmpty {
            try await Task.sleep(for: .milliseconds(100))
            let stats = data(try await strict.curl(["\(strict.api)/v1/channels/\(strict.channelID)/stats"]))
            let outputs = stats["outputs"] as? [[String: Any]] ?? []
            lastError = outputs.first { $0["kind"] as? String == "forward" }?["lastError"] as? String ?? ""
        }
        XCTAssertFalse(lastError.isEmpty, "the unverifiable target was refused")
        _ = try await refused.value
        let strictLog = (try? String(contentsOf: strictDir.appendingPathComponent("before.log"), encoding: .utf8)) ?? ""
        XCTAssertTrue(strictLog.contains("failed verification"), "libavformat's TLS said why")
        strict.gateway.terminate()
        strict.gateway.waitUntilExit()
        await strict.receiver.stop()
        target.terminate()
        target.waitUntilExit()
    }

    /// Forwards changed through the API while the channel is live apply at once: a target added
    /// mid-stream starts receiving from the next keyframe, and deleting it ends that push while
    /// the publisher carries on.
    func testForwardAddedAndDeletedWhileLiveAppliesAtOnce() async throws {
        let dir = try MediaTools.temporaryDirectory("live-forwards")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 12, in: dir)
        let port = freePorts(4), forwardPort = port + 3
        let setup = try await liveSetup(dir: dir, port: port, token: "livefwd")
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        let (api, channel, curl) = (setup.api, setup.channelID, setup.curl)
        _ = try await curl(["-X", "PATCH", "\(api)/v1/channels/\(channel)", "--json", #"{"hls":false}"#])
        let publisher = Task {
            try await ProcessRunner.run("ffmpeg", ["-re", "-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                   "rtmp://127.0.0.1:\(port)/live/\(setup.key)"], timeout: 40)
        }
        let live = await setup.receiver.wait { $0.contains { $0.type == "channel.live" } }
        XCTAssertTrue(live)
        let received = dir.appendingPathComponent("added.flv")
        let target = Task {
            try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-listen", "1", "-i", "rtmp://127.0.0.1:\(forwardPort)/live/fwd",
                                                   "-c", "copy", "-f", "flv", "-y", received.path], timeout: 30)
        }
        try await Task.sleep(for: .milliseconds(300))
        let created = try await curl(["-X", "POST", "\(api)/v1/channels/\(channel)/forwards", "--json", #"{"url":"rtmp://127.0.0.1:\#(forwardPort)/live/fwd"}"#])
        let forwardID = try XCTUnwrap(data(created)["id"] as? String, "\(created)")
        var state = ""
        for _ in 0..<50 where state != "running" {
            try await Task.sleep(for: .milliseconds(100))
            let stats = data(try await curl(["\(api)/v1/channels/\(channel)/stats"]))
            state = (stats["outputs"] as? [[String: Any]] ?? []).first { $0["id"] as? String == forwardID }?["state"] as? String ?? ""
        }
        XCTAssertEqual(state, "running", "the new forward started during the session")
        try await Task.sleep(for: .seconds(4))
        _ = try await curl(["-X", "DELETE", "\(api)/v1/channels/\(channel)/forwards/\(forwardID)"])
        _ = try await target.value
        // Deleting the forward ended its push: the target is done while the publisher is still live.
        let stats = data(try await curl(["\(api)/v1/channels/\(channel)/stats"]))
        XCTAssertEqual(stats["status"] as? String, "live", "the publisher carries on")
        XCTAssertFalse((stats["outputs"] as? [[String: Any]] ?? []).contains { $0["kind"] as? String == "forward" }, "\(stats)")
        let published = try await publisher.value
        XCTAssertEqual(published.exitCode, 0, published.stderr)
        let copy = try await MediaTools.probe(received)
        XCTAssertGreaterThan(copy.first { $0.codecType == "video" }?.packets ?? 0, 50, "seconds of video reached the target added mid-stream")
        setup.gateway.terminate()
        setup.gateway.waitUntilExit()
        await setup.receiver.stop()
    }

    /// A publisher killed mid-stream (no unpublish, no FIN from ffmpeg's side first) still
    /// leaves a finished, playable MP4.
    func testKilledPublisherStillLeavesAValidRecording() async throws {
        let dir = try MediaTools.temporaryDirectory("killed")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 8, in: dir)
        let port = freePorts()
        let setup = try await liveSetup(dir: dir, port: port, token: "kill")
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        _ = try await setup.curl(["-X", "PATCH", "\(setup.api)/v1/channels/\(setup.channelID)", "--json", #"{"record":true,"hls":false}"#])
        let killed = try await ProcessRunner.run("ffmpeg", ["-re", "-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                            "rtmp://127.0.0.1:\(port)/live/\(setup.key)"], timeout: 4, timeoutSignal: SIGKILL)
        XCTAssertTrue(killed.timedOut)
        let ready = await setup.receiver.wait(timeout: 15) { $0.contains { $0.type == "video.ready" } }
        XCTAssertTrue(ready, "the recording is finished when the session ends (the reconnect window, 10 s, passed without a reconnect)")
        let listed = try await setup.curl(["\(setup.api)/v1/videos"])
        let video = try XCTUnwrap((data(listed)["items"] as? [[String: Any]])?.first)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("recordings/\(setup.channelID)").path)
        XCTAssertEqual(files.filter { $0.hasSuffix(".mp4") }.count, 1, "\(files)")
        let path = dir.appendingPathComponent("recordings/\(setup.channelID)/\(files.first { $0.hasSuffix(".mp4") } ?? "")").path
        let duration = try await MediaTools.duration(path)
        XCTAssertEqual(duration, 4, accuracy: 1.2, "about as long as the publisher ran")
        XCTAssertEqual(try XCTUnwrap(video["durationSec"] as? Double), duration, accuracy: 0.1)
        let streams = try await MediaTools.probe(path: path)
        XCTAssertGreaterThan(streams.first { $0.codecType == "video" }?.packets ?? 0, 50)
        // The session ended when the publisher was killed, not when the 10 s window closed: its
        // billed duration and the recording's (ffprobe) agree within a second.
        let sessions = try await setup.curl(["\(setup.api)/v1/channels/\(setup.channelID)/sessions"])
        let session = try XCTUnwrap((data(sessions)["items"] as? [[String: Any]])?.first)
        let started = Timestamp.parse(try XCTUnwrap(session["startedAt"] as? String))
        let ended = Timestamp.parse(try XCTUnwrap(session["endedAt"] as? String))
        XCTAssertEqual(ended.timeIntervalSince(started), duration, accuracy: 1.0, "session \(session)")
        setup.gateway.terminate()
        setup.gateway.waitUntilExit()
        await setup.receiver.stop()
    }

    /// docs/contract.md §3 across connections, on the real binary: a publisher killed with SIGKILL comes back
    /// inside the window — one session, one recording holding every frame of both connections
    /// (duration ≈ both parts and the gap), HLS continuing its playlist after a discontinuity and
    /// readable by ffprobe, exactly one channel.live and one channel.offline.
    func testKilledPublisherReconnectingContinuesOneRecordingAndTheHLSPlaylist() async throws {
        let dir = try MediaTools.temporaryDirectory("reconnect-e2e")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 8, in: dir)
        let port = freePorts()
        let setup = try await liveSetup(dir: dir, port: port, token: "recon", record: true)
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        _ = try await setup.curl(["-X", "PATCH", "\(setup.api)/v1/channels/\(setup.channelID)", "--json", #"{"reconnectWindowSec":20}"#])
        let url = "rtmp://127.0.0.1:\(port)/live/\(setup.key)"
        let killed = try await ProcessRunner.run("ffmpeg", ["-re", "-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv", url],
                                                 timeout: 4, timeoutSignal: SIGKILL)
        XCTAssertTrue(killed.timedOut)
        let playlistURL = "http://127.0.0.1:\(port + 1)/hls/\(setup.channelID)/index.m3u8"
        let between = try await http([playlistURL])
        XCTAssertEqual(between.status, 200, "the playlist stays while the session waits for its publisher")
        // While it waits, /stats has the one stats shape, with the session's figures so far.
        let waiting = data(try await setup.curl(["\(setup.api)/v1/channels/\(setup.channelID)/stats"]))
        XCTAssertEqual(waiting["status"] as? String, "reconnecting")
        XCTAssertEqual(Set(waiting.keys), ["status", "sessionId", "uptimeSec", "bytesIn", "videoFrames", "audioFrames", "bitrateKbps", "bitrateKbps10s",
                                           "fps", "keyframeIntervalSec", "video", "audio", "timestampRepairs", "avDriftMs", "outputs", "tracks", "health"])
        XCTAssertGreaterThan(waiting["bytesIn"] as? Int ?? 0, 100_000, "the dropped connection's bytes count")
        XCTAssertGreaterThan(waiting["uptimeSec"] as? Double ?? 0, 3.5, "from the session's start")
        try await Task.sleep(for: .seconds(1))

        let back = Task {
            try await ProcessRunner.run("ffmpeg", ["-re", "-hide_banner", "-loglevel", "error", "-t", "5", "-i", clip.path, "-c", "copy", "-f", "flv", url],
                                        timeout: 30)
        }
        // While the second connection streams, the playlist has both connections' segments.
        var text = ""
        for _ in 0..<80 {
            text = String(decoding: try await http([playlistURL]).body, as: UTF8.self)
            // Both connections' segments: the second's first one is enough (on a loaded machine the
            // window between its second segment and its end can fall between two polls).
            if text.contains("#EXT-X-DISCONTINUITY") && text.components(separatedBy: "-1-").count > 1 && !text.contains("#EXT-X-ENDLIST") { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTAssertTrue(text.contains("#EXT-X-DISCONTINUITY"), text)
        XCTAssertFalse(text.contains("#EXT-X-ENDLIST"), text)
        let segments = text.split(separator: "\n").filter { $0.hasSuffix(".ts") }
        XCTAssertEqual(Set(segments).count, segments.count, "no segment name reused")
        let probe = try await ProcessRunner.run("ffprobe", ["-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", playlistURL], timeout: 30)
        XCTAssertTrue(probe.stdout.contains("h264"), probe.stdout + probe.stderr)
        let second = try await back.value
        XCTAssertEqual(second.exitCode, 0, second.stderr)

        let ready = await setup.receiver.wait(timeout: 20) { $0.contains { $0.type == "video.ready" } }
        XCTAssertTrue(ready)
        try await Task.sleep(for: .milliseconds(500))
        XCTAssertEqual(setup.receiver.all.map(\.type).filter { $0.hasPrefix("channel.") },
                       ["channel.live", "channel.media", "channel.disconnected", "channel.reconnected", "channel.offline"],
                       "one session: no offline/live pair for the reconnect, which the window's events announce; the same tracks are not reported twice")
        XCTAssertEqual(setup.receiver.events("channel.offline").first?.reason, "unpublished")
        let sessions = try await setup.curl(["\(setup.api)/v1/channels/\(setup.channelID)/sessions"])
        let session = try XCTUnwrap((data(sessions)["items"] as? [[String: Any]])?.first)
        XCTAssertEqual((data(sessions)["items"] as? [[String: Any]])?.count, 1)
        let framesReceived = try XCTUnwrap(session["videoFrames"] as? Int)
        XCTAssertGreaterThan(framesReceived, 150, "both connections count: ~4 s + 5 s at 25 fps")
        // The session lists both connections, how each ended, and their bytes sum to the session's.
        let connections = try XCTUnwrap(session["connections"] as? [[String: Any]], "\(session)")
        XCTAssertEqual(connections.map { $0["endReason"] as? String }, ["connection_closed", "unpublished"])
        XCTAssertTrue(connections.allSatisfy { ($0["remoteAddr"] as? String)?.hasPrefix("127.0.0.1:") == true && $0["endedAt"] is String })
        XCTAssertEqual(connections.compactMap { $0["bytesIn"] as? Int }.reduce(0, +), session["bytesIn"] as? Int)

        let videos = try await setup.curl(["\(setup.api)/v1/videos"])
        let items = data(videos)["items"] as? [[String: Any]] ?? []
        XCTAssertEqual(items.count, 1, "one video for the session: \(items)")
        // (Beside it at most its poster, `.mp4.jpg`.)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("recordings/\(setup.channelID)").path)
            .filter { $0.hasSuffix(".mp4") }
        XCTAssertEqual(files, ["\(try XCTUnwrap(session["id"] as? String)).mp4"])
        let path = dir.appendingPathComponent("recordings/\(setup.channelID)/\(files[0])").path
        let streams = try await MediaTools.probe(path: path)
        XCTAssertEqual(streams.first { $0.codecType == "video" }?.packets, framesReceived, "every frame of both connections is in the file")
        let duration = try await MediaTools.duration(path)
        XCTAssertGreaterThan(duration, 9, "≈ 4 s + the gap + 5 s")
        XCTAssertLessThan(duration, 14)
        setup.gateway.terminate()
        setup.gateway.waitUntilExit()
        await setup.receiver.stop()
    }

    /// `replace` with `record: true`, on the real binary: a replacing publisher with the same
    /// stream continues the session's one recording (never two writers on one file); one with
    /// another resolution starts the next part, `SESSION-2.mp4`, its own video.
    func testReplaceContinuesTheRecordingAndAResolutionChangeStartsPartTwo() async throws {
        let dir = try MediaTools.temporaryDirectory("replace-record")
        defer { try? FileManager.default.removeItem(at: dir) }
        let small = try await MediaTools.makeClip(seconds: 8, in: dir)
        let large = try await MediaTools.makeClip(seconds: 3, size: "640x360", in: dir, name: "large.flv")
        let port = freePorts()
        let setup = try await liveSetup(dir: dir, port: port, token: "replrec", record: true)
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        let other = try await setup.curl(["-X", "POST", "\(setup.api)/v1/channels", "--json", #"{"name":"same","userId":"u1","record":true,"duplicatePolicy":"replace"}"#])
        let sameID = try XCTUnwrap(data(other)["id"] as? String), sameKey = try XCTUnwrap(data(other)["streamId"] as? String)
        _ = try await setup.curl(["-X", "PATCH", "\(setup.api)/v1/channels/\(setup.channelID)", "--json", #"{"duplicatePolicy":"replace"}"#])

        func publish(_ clip: URL, _ key: String, seconds: Int) -> Task<ProcessResult, any Error> {
            Task {
                try await ProcessRunner.run("ffmpeg", ["-re", "-hide_banner", "-loglevel", "error", "-t", "\(seconds)", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                       "rtmp://127.0.0.1:\(port)/live/\(key)"], timeout: 30)
            }
        }
        for (channel, key, second) in [(setup.channelID, setup.key, large), (sameID, sameKey, small)] {
            let first = publish(small, key, seconds: 8)
            let live = await setup.receiver.wait { $0.contains { $0.type == "channel.live" && $0.channelId == channel } }
            XCTAssertTrue(live)
            try await Task.sleep(for: .seconds(2))
            let replacing = try await publish(second, key, seconds: 3).value
            XCTAssertEqual(replacing.exitCode, 0, replacing.stderr)
            let replaced = try await first.value
            XCTAssertNotEqual(replaced.exitCode, 0, "the first publisher was replaced (closed by the server, not at its clip's end)")
        }
        let ready = await setup.receiver.wait(timeout: 20) { $0.filter { $0.type == "video.ready" }.count >= 3 }
        XCTAssertTrue(ready)
        let videos = try await setup.curl(["\(setup.api)/v1/videos?limit=100"])
        let items = data(videos)["items"] as? [[String: Any]] ?? []

        // Another resolution: two parts, each its own file and video.
        let parts = items.filter { $0["channelId"] as? String == setup.channelID }.sorted { ($0["name"] as? String ?? "") < ($1["name"] as? String ?? "") }
        let sessionA = try XCTUnwrap(parts.first?["sessionId"] as? String)
        XCTAssertEqual(parts.map { $0["name"] as? String }, ["\(sessionA)-2.mp4", "\(sessionA).mp4"])
        XCTAssertEqual(Set(parts.compactMap { $0["width"] as? Int }), [320, 640])
        let partFiles = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("recordings/\(setup.channelID)").path)
            .filter { $0.hasSuffix(".mp4") }.sorted()
        XCTAssertEqual(partFiles, ["\(sessionA)-2.mp4", "\(sessionA).mp4"])
        let second = try await MediaTools.probe(path: dir.appendingPathComponent("recordings/\(setup.channelID)/\(sessionA)-2.mp4").path)
        XCTAssertEqual(second.first { $0.codecType == "video" }?.packets, 75, "the replacing publisher's 3 s at 25 fps")

        // The same stream: one file with both publishers' frames.
        let same = items.filter { $0["channelId"] as? String == sameID }
        XCTAssertEqual(same.count, 1, "\(same)")
        let sessions = try await setup.curl(["\(setup.api)/v1/channels/\(sameID)/sessions"])
        let session = try XCTUnwrap((data(sessions)["items"] as? [[String: Any]])?.first)
        XCTAssertEqual((session["connections"] as? [Any])?.count, 2)
        let file = dir.appendingPathComponent("recordings/\(sameID)/\(try XCTUnwrap(session["id"] as? String)).mp4").path
        let probed = try await MediaTools.probe(path: file)
        let frames = try XCTUnwrap(probed.first { $0.codecType == "video" }?.packets)
        XCTAssertEqual(frames, session["videoFrames"] as? Int, "every frame of both publishers")
        XCTAssertGreaterThan(frames, 100)
        setup.gateway.terminate()
        setup.gateway.waitUntilExit()
        await setup.receiver.stop()
    }
}
