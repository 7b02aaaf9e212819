import Foundation
import TestSupport
import XCTest

/// Issue #22 item 4, forwards: a forward marked `enhanced: true` re-publishes every track and
/// every codec as Enhanced RTMP through LiveGate's own FLV/RTMP writer (Debian's libavformat
/// writes no Enhanced FLV), while a plain forward gets track 0 and names what it left out. The
/// target is a second LiveGate, which measures what arrives: an OBS-shaped two-rendition publish
/// arrives as two video tracks (and plays there as adaptive HLS), an HEVC + Opus publish as HEVC
/// and Opus, each recorded by the target (ffprobe).
final class EnhancedForwardTests: XCTestCase {
    func testAnEnhancedForwardCarriesEveryTrackAndCodecAPlainOneTrackZero() async throws {
        let python = try await StandardWebhooksVerifier.python()
        guard try await ProcessRunner.run(python, ["-c", "import av"], timeout: 30).exitCode == 0 else {
            throw XCTSkip("PyAV (PyPI av) is not installed: scripts/python-tools.sh installs it")
        }
        let dir = try MediaTools.temporaryDirectory("enhanced-fwd")
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freePorts(5), targetPort = port + 3
        let targetDir = dir.appendingPathComponent("target")
        try FileManager.default.createDirectory(at: targetDir, withIntermediateDirectories: true)
        let (target, targetLog) = try await startGateway(dir: targetDir, port: targetPort, extraEnv: [
            "LIVE_TOKEN_ID": "tok_t", "LIVE_TOKEN_SECRET": "t-secret-0123456789", "LIVEGATE_NODE_ID": "node-target",
        ], log: "target.log")
        defer { if target.isRunning { kill(target.processIdentifier, SIGKILL) } }
        let targetAPI = "http://127.0.0.1:\(targetPort + 1)"
        @Sendable func targetCurl(_ args: [String]) async throws -> [String: Any] {
            let r = try await ProcessRunner.run("curl", ["-s", "-u", "tok_t:t-secret-0123456789"] + args, timeout: 10)
            return (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
        }
        func makeTarget(_ name: String) async throws -> (id: String, key: String) {
            let c = (try await targetCurl(["-X", "POST", "\(targetAPI)/v1/channels", "--json", #"{"name":"\#(name)","userId":"u","record":true}"#])["data"]
                     as? [String: Any]) ?? [:]
            return (try XCTUnwrap(c["id"] as? String, "\(c)"), try XCTUnwrap(c["streamId"] as? String))
        }
        let multi = try await makeTarget("multi"), plain = try await makeTarget("plain"), hevc = try await makeTarget("hevc")

        let setup = try await liveSetup(dir: dir, port: port, token: "efwd")
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        _ = try await setup.curl(["-X", "PATCH", "\(setup.api)/v1/channels/\(setup.channelID)", "--json", #"{"hls":false}"#])
        let enhanced = try await setup.curl(["-X", "POST", "\(setup.api)/v1/channels/\(setup.channelID)/forwards",
                                             "--json", #"{"url":"rtmp://127.0.0.1:\#(targetPort)/live/\#(multi.key)","enhanced":true}"#])
        XCTAssertEqual((enhanced["data"] as? [String: Any])?["enhanced"] as? Bool, true, "\(enhanced)")
        let plainForward = try await setup.curl(["-X", "POST", "\(setup.api)/v1/channels/\(setup.channelID)/forwards",
                                                 "--json", #"{"url":"rtmp://127.0.0.1:\#(targetPort)/live/\#(plain.key)"}"#])
        let plainId = try XCTUnwrap((plainForward["data"] as? [String: Any])?["id"] as? String, "\(plainForward)")
        let script = MultitrackOutputsTests.repository.appendingPathComponent("scripts/publish-multitrack.py").path
        let publisher = Task {
            try await ProcessRunner.run(python, [script, "rtmp://127.0.0.1:\(port)/live/\(setup.key)", "8", "640x360", "320x180", "--audio", "aac"], timeout: 90)
        }
        // The enhanced target sees both renditions; the plain one track 0 only.
        var multiStats: [String: Any] = [:]
        let arrived = try await eventually(30, every: .milliseconds(250)) {
            multiStats = (try await targetCurl(["\(targetAPI)/v1/channels/\(multi.id)/stats"])["data"] as? [String: Any]) ?? [:]
            return ((multiStats["tracks"] as? [[String: Any]]) ?? []).filter { $0["kind"] as? String == "video" && $0["width"] as? Int != nil }.count == 2
        }
        XCTAssertTrue(arrived, "\(multiStats)\n" + ((try? String(contentsOf: targetLog, encoding: .utf8)) ?? "").suffix(2000))
        let sizes = ((multiStats["tracks"] as? [[String: Any]]) ?? []).filter { $0["kind"] as? String == "video" }.map { "\($0["width"] ?? 0)x\($0["height"] ?? 0)" }
        XCTAssertEqual(sizes, ["640x360", "320x180"])
        // The plain push connects on its own (libavformat's client: a few hundred ms behind the
        // enhanced one here): wait for its video too.
        var plainStats: [String: Any] = [:]
        _ = try await eventually(15, every: .milliseconds(250)) {
            plainStats = (try await targetCurl(["\(targetAPI)/v1/channels/\(plain.id)/stats"])["data"] as? [String: Any]) ?? [:]
            return ((plainStats["tracks"] as? [[String: Any]]) ?? []).contains { $0["kind"] as? String == "video" && $0["width"] as? Int != nil }
        }
        XCTAssertEqual(((plainStats["tracks"] as? [[String: Any]]) ?? []).filter { $0["kind"] as? String == "video" }.count, 1,
                       "\(plainStats)\n" + ((try? String(contentsOf: targetLog, encoding: .utf8)) ?? "").split(separator: "\n").filter { !$0.contains("migration") }.suffix(25).joined(separator: "\n"))
        // The plain forward says what it left out.
        let forwards = try await setup.curl(["\(setup.api)/v1/channels/\(setup.channelID)/forwards"])
        let plainStatus = (((forwards["data"] as? [String: Any])?["items"] as? [[String: Any]]) ?? []).first { $0["id"] as? String == plainId }?["status"] as? [String: Any]
        XCTAssertEqual((plainStatus?["notCarried"] as? [String])?.count, 1, "\(forwards)")
        XCTAssertTrue((plainStatus?["notCarried"] as? [String])?.first?.contains("video 1") == true, "\(forwards)")
        // The target plays what it got as adaptive HLS: two variants.
        var master = ""
        let adaptive = try await eventually(20, every: .milliseconds(250)) {
            master = try await ProcessRunner.run("curl", ["-s", "-f", "http://127.0.0.1:\(targetPort + 1)/hls/\(multi.id)/index.m3u8"], timeout: 10).stdout
            return master.contains("#EXT-X-STREAM-INF")
        }
        XCTAssertTrue(adaptive, master)
        XCTAssertEqual(master.components(separatedBy: "#EXT-X-STREAM-INF").count - 1, 2, master)
        let first = try await publisher.value
        XCTAssertEqual(first.exitCode, 0, first.stderr.suffix(1000).description)

        // HEVC + Opus through an enhanced forward: the target measures and records both.
        _ = try await setup.curl(["-X", "DELETE", "\(setup.api)/v1/channels/\(setup.channelID)/forwards/\(plainId)"])
        let enhancedId = try XCTUnwrap((enhanced["data"] as? [String: Any])?["id"] as? String)
        _ = try await setup.curl(["-X", "PATCH", "\(setup.api)/v1/channels/\(setup.channelID)/forwards/\(enhancedId)",
                                  "--json", #"{"url":"rtmp://127.0.0.1:\#(targetPort)/live/\#(hevc.key)"}"#])
        let second = try await ProcessRunner.run(python, [script, "rtmp://127.0.0.1:\(port)/live/\(setup.key)", "5", "426x240:libx265", "--audio", "libopus"],
                                                 timeout: 90)
        XCTAssertEqual(second.exitCode, 0, second.stderr.suffix(1000).description)
        var videos: [[String: Any]] = []
        let recorded = try await eventually(30, every: .milliseconds(250)) {
            videos = ((try await targetCurl(["\(targetAPI)/v1/videos?channelId=\(hevc.id)"])["data"] as? [String: Any])?["items"] as? [[String: Any]]) ?? []
            return !videos.isEmpty
        }
        XCTAssertTrue(recorded, ((try? String(contentsOf: targetLog, encoding: .utf8)) ?? "").suffix(3000).description)
        let videoId = try XCTUnwrap(videos.first?["id"] as? String)
        let mp4 = dir.appendingPathComponent("hevc-copy.mp4")
        _ = try await ProcessRunner.run("curl", ["-s", "-u", "tok_t:t-secret-0123456789", "-o", mp4.path, "\(targetAPI)/v1/videos/\(videoId)/file"], timeout: 20)
        let streams = try await MediaTools.probe(mp4)
        XCTAssertEqual(streams.first { $0.codecType == "video" }?.codecName, "hevc", "\(streams)")
        XCTAssertEqual(streams.first { $0.codecType == "video" }?.width, 426, "\(streams)")
        XCTAssertEqual(streams.first { $0.codecType == "audio" }?.codecName, "opus", "\(streams)")
        XCTAssertGreaterThan(streams.first { $0.codecType == "video" }?.packets ?? 0, 100)
        setup.gateway.terminate()
        setup.gateway.waitUntilExit()
        target.terminate()
        target.waitUntilExit()
        await setup.receiver.stop()
    }
}
