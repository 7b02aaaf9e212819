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
        for i in 0..<10 {
            let created = try await setup.curl(["-X", "POST", "\(setup.api)/v1/channels", "--json", #"{"name":"b\#(i)","userId":"bench","hls":false}"#])
            keys.append(try XCTUnwrap((created["data"] as? [String: Any])?["streamId"] as? String))
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
