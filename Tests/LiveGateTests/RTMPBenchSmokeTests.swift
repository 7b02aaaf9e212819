import Foundation
import TestSupport
import XCTest

/// The load generator against the real gateway (issue #6's smoke run: 10 publishers, 5 s).
/// Benchmarks proper live in `bench/` and are not part of the test suite.
final class RTMPBenchSmokeTests: XCTestCase {
    var benchBinary: String { (gatewayBinary as NSString).deletingLastPathComponent + "/rtmp-bench" }

    func testTenPublishersForFiveSecondsAllSucceed() async throws {
        let dir = try MediaTools.temporaryDirectory("bench")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 2, in: dir)
        let port = freePorts()
        let setup = try await liveSetup(dir: dir, port: port, token: "bench")
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        var keys: [String] = []
        var recorded = ""
        for i in 0..<10 {
            // The first records what it receives: the independent check of what rtmp-bench sends.
            let created = try await setup.curl(["-X", "POST", "\(setup.api)/v1/channels", "--json",
                                                #"{"name":"b\#(i)","userId":"bench","hls":false,"record":\#(i == 0)}"#])
            let channel = try XCTUnwrap(created["data"] as? [String: Any])
            keys.append(try XCTUnwrap(channel["streamId"] as? String))
            if i == 0 { recorded = try XCTUnwrap(channel["id"] as? String) }
        }
        let keysFile = dir.appendingPathComponent("keys.txt")
        try keys.joined(separator: "\n").write(to: keysFile, atomically: true, encoding: .utf8)
        let run = try await ProcessRunner.run(benchBinary, ["--url", "rtmp://127.0.0.1:\(port)/live", "--file", clip.path, "--publishers", "10",
                                                            "--duration", "5", "--keys-file", keysFile.path, "--json"], timeout: 60)
        XCTAssertEqual(run.exitCode, 0, run.stdout + run.stderr)
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], run.stdout)
        XCTAssertEqual(summary["accepted"] as? Int, 10)
        XCTAssertEqual(summary["completed"] as? Int, 10)
        XCTAssertEqual(summary["failed"] as? Int, 0)
        let latency = try XCTUnwrap(summary["acceptLatencyMs"] as? [String: Double])
        XCTAssertGreaterThan(latency["p50"] ?? 0, 0)
        XCTAssertLessThanOrEqual(latency["p50"] ?? 0, latency["p99"] ?? 0)
        // Real-time pace: 5 s of a ~100 kB/s clip per publisher, not a flood.
        let bytes = try XCTUnwrap(summary["bytesSent"] as? Int)
        XCTAssertGreaterThan(bytes, 10 * 100_000)
        // The gateway saw every one of them live and then offline.
        let offline = await setup.receiver.wait(timeout: 15) { $0.filter { $0.type == "channel.offline" }.count == 10 }
        XCTAssertTrue(offline)
        XCTAssertEqual(setup.receiver.events("channel.offline").compactMap(\.reason), Array(repeating: "unpublished", count: 10))
        // What one publisher sent — the 2-s clip looped two and a half times from bytes encoded
        // once for every publisher (`EncodedClip`) — is a stream ffmpeg decodes without an error,
        // as long as the run, with every video frame of it (25 fps): a later pass sent with the
        // first pass's timestamps, or a slice cut inside a message, fails here.
        let ready = await setup.receiver.wait(timeout: 30) { $0.contains { $0.type == "video.ready" } }
        XCTAssertTrue(ready, "the recording is finished after the reconnect window")
        let folder = dir.appendingPathComponent("recordings/\(recorded)")
        let mp4 = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: folder.path).first { $0.hasSuffix(".mp4") })
        let path = folder.appendingPathComponent(mp4).path
        let duration = try await MediaTools.duration(path)
        XCTAssertEqual(duration, 5, accuracy: 0.5)
        let video = try await MediaTools.probe(path: path).first { $0.codecType == "video" }
        XCTAssertEqual(Double(video?.packets ?? 0), 125, accuracy: 6)
        let decoded = try await ProcessRunner.run("ffmpeg", ["-v", "error", "-xerror", "-i", path, "-f", "null", "-"], timeout: 60)
        XCTAssertEqual(decoded.exitCode, 0, decoded.stderr)
        XCTAssertEqual(decoded.stderr, "")
        // A wrong key is counted as a failure with its cause.
        let refused = try await ProcessRunner.run(benchBinary, ["--url", "rtmp://127.0.0.1:\(port)/live", "--file", clip.path, "--publishers", "1",
                                                                "--duration", "1", "--key-prefix", "nope"], timeout: 30)
        XCTAssertEqual(refused.exitCode, 1)
        XCTAssertTrue(refused.stdout.contains("refused: NetStream.Publish.Unauthorized"), refused.stdout)
        setup.gateway.terminate()
        setup.gateway.waitUntilExit()
        await setup.receiver.stop()
    }
}
