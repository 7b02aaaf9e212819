import Foundation
import TestSupport
import XCTest

/// Issue #22 ("done when", multitrack): an OBS-shaped two-rendition publish — two H.264
/// encoders of one picture, keyframes together, plus AAC, written by FFmpeg 8's Enhanced-RTMP
/// FLV muxer and RTMP client (PyAV, `scripts/publish-multitrack.py`) — shows both tracks in
/// `/stats`, plays as adaptive HLS (a multivariant `index.m3u8`, one variant per rendition at
/// its own size, audio as a rendition group, variants cut together) and records every track.
/// Before: track 0 only, the other rendition silently dropped.
final class MultitrackOutputsTests: XCTestCase {
    func testTwoRenditionsPlayAsAdaptiveHLSAndRecordEveryTrack() async throws {
        let python = try await StandardWebhooksVerifier.python()
        guard try await ProcessRunner.run(python, ["-c", "import av"], timeout: 30).exitCode == 0 else {
            throw XCTSkip("PyAV (PyPI av) is not installed: scripts/python-tools.sh installs it")
        }
        let dir = try MediaTools.temporaryDirectory("multitrack")
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freePorts()
        let setup = try await liveSetup(dir: dir, port: port, token: "multi", record: true)
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        let script = Self.repository.appendingPathComponent("scripts/publish-multitrack.py").path
        let publisher = Task {
            try await ProcessRunner.run(python, [script, "rtmp://127.0.0.1:\(port)/live/\(setup.key)", "10", "640x360", "320x180", "--audio", "aac"],
                                        timeout: 90)
        }
        // While live: both video tracks in /stats with their sizes, track 0 also at the top level.
        var stats: [String: Any] = [:]
        let measured = try await eventually(30, every: .milliseconds(250)) {
            stats = (try await setup.curl(["\(setup.api)/v1/channels/\(setup.channelID)/stats"])["data"] as? [String: Any]) ?? [:]
            let tracks = stats["tracks"] as? [[String: Any]] ?? []
            return tracks.filter { $0["kind"] as? String == "video" && $0["width"] as? Int != nil }.count == 2
                && tracks.contains { $0["trackId"] as? Int == 1 && $0["aligned"] as? Bool != nil && $0["bitrateKbps"] as? Double ?? 0 > 0 }
        }
        if !measured {
            // What the publisher and the gateway saw, for a publish that never showed in /stats.
            let published = try await publisher.value
            XCTFail("\(stats)\npublisher exit \(published.exitCode) after \(Int(published.duration)) s:\n\(published.stderr.suffix(3000))\(gatewayLog(dir))")
        }
        let tracks = stats["tracks"] as? [[String: Any]] ?? []
        let videoTracks = tracks.filter { $0["kind"] as? String == "video" }
        XCTAssertEqual(videoTracks.map { $0["trackId"] as? Int }, [0, 1])
        XCTAssertEqual(videoTracks.map { "\($0["width"] ?? "-")x\($0["height"] ?? "-")" }, ["640x360", "320x180"])
        XCTAssertEqual(videoTracks.last?["aligned"] as? Bool, true, "renditions of one picture have their keyframes together")
        XCTAssertEqual(tracks.filter { $0["kind"] as? String == "audio" }.map { $0["codec"] as? String }, ["aac"])
        XCTAssertEqual((stats["video"] as? [String: Any])?["width"] as? Int, 640, "the top level stays track 0")
        XCTAssertEqual(videoTracks.allSatisfy { ($0["inOutputs"] as? Bool) == true }, true)
        // Each track's bit rate, measured over its own bytes (the small rendition is the smaller).
        let rates = videoTracks.map { $0["bitrateKbps"] as? Double ?? 0 }
        XCTAssertTrue(rates.count == 2 && rates[1] > 0 && rates[0] > rates[1], "\(rates)")

        // The multivariant playlist, read over HTTP as a player does.
        let hls = "http://127.0.0.1:\(port + 1)/hls/\(setup.channelID)"
        var master = ""
        let written = try await eventually(30, every: .milliseconds(250)) {
            master = try await ProcessRunner.run("curl", ["-s", "-f", "\(hls)/index.m3u8"], timeout: 10).stdout
            return master.contains("#EXT-X-STREAM-INF")
        }
        XCTAssertTrue(written, master)
        let variants = master.split(separator: "\n").filter { $0.hasPrefix("#EXT-X-STREAM-INF:") }
        XCTAssertEqual(variants.count, 2, master)
        XCTAssertTrue(variants[0].contains("RESOLUTION=640x360") && variants[1].contains("RESOLUTION=320x180"), master)
        XCTAssertTrue(variants.allSatisfy { $0.contains("CODECS=\"avc1.") && $0.contains("mp4a.40.2") && $0.contains("AUDIO=\"audio\"")
            && $0.contains("FRAME-RATE=") }, master)
        let bandwidths = variants.map { line in Int(line.split(separator: ",").first { $0.hasPrefix("#EXT-X-STREAM-INF:BANDWIDTH=") || $0.hasPrefix("BANDWIDTH=") }?
            .split(separator: "=").last ?? "0") ?? 0 }
        XCTAssertGreaterThan(bandwidths[0], bandwidths[1], "the bigger rendition is measured as the bigger one: \(master)")
        XCTAssertTrue(master.contains("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\""), master)

        // Every variant plays, at its own size, through the API's HLS route (Debian's ffprobe).
        for (uri, size) in [("v0.m3u8", "640,360"), ("v1.m3u8", "320,180")] {
            let probe = try await ProcessRunner.run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=codec_name,width,height",
                                                                "-of", "csv=p=0", "\(hls)/\(uri)"], timeout: 30)
            // (ffprobe prints an HLS stream once per program it is in.)
            XCTAssertEqual(probe.stdout.split(separator: "\n").first.map(String.init), "h264,\(size)", "\(uri): \(probe.stderr)")
        }
        let audio = try await ProcessRunner.run("ffprobe", ["-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", "\(hls)/a0.m3u8"], timeout: 30)
        XCTAssertEqual(audio.stdout.split(separator: "\n").first.map(String.init), "aac", audio.stderr)
        // The whole adaptive stream through its multivariant playlist: ffmpeg opens every variant.
        let whole = try await MediaTools.probe(path: "\(hls)/index.m3u8")
        XCTAssertEqual(Set(whole.filter { $0.codecType == "video" }.compactMap(\.width)), [640, 320], "\(whole)")

        // Variants are cut together: each variant's segments have the same durations.
        let v0 = try await ProcessRunner.run("curl", ["-s", "-f", "\(hls)/v0.m3u8"], timeout: 10).stdout
        let v1 = try await ProcessRunner.run("curl", ["-s", "-f", "\(hls)/v1.m3u8"], timeout: 10).stdout
        func durations(_ playlist: String) -> [String] { playlist.split(separator: "\n").filter { $0.hasPrefix("#EXTINF:") }.map(String.init) }
        let common = min(durations(v0).count, durations(v1).count)
        XCTAssertGreaterThan(common, 0, v0 + v1)
        XCTAssertEqual(Array(durations(v0).prefix(common)), Array(durations(v1).prefix(common)), "\(v0)\n\(v1)")

        let published = try await publisher.value
        XCTAssertEqual(published.exitCode, 0, published.stderr.suffix(1500).description)
        // The recording keeps every track.
        let ready = await setup.receiver.wait(timeout: 30) { $0.contains { $0.type == "video.ready" } }
        XCTAssertTrue(ready, ((try? String(contentsOf: dir.appendingPathComponent("before.log"), encoding: .utf8)) ?? "").suffix(3000).description)
        let videos = try await setup.curl(["\(setup.api)/v1/videos?channelId=\(setup.channelID)"])
        let videoId = try XCTUnwrap((((videos["data"] as? [String: Any])?["items"] as? [[String: Any]])?.first)?["id"] as? String, "\(videos)")
        let mp4 = dir.appendingPathComponent("multitrack.mp4")
        let download = try await ProcessRunner.run("curl", ["-s", "-f", "-u", "tok_multi:multi-secret-0123456789", "-o", mp4.path,
                                                            "\(setup.api)/v1/videos/\(videoId)/file"], timeout: 30)
        XCTAssertEqual(download.exitCode, 0)
        let streams = try await MediaTools.probe(mp4)
        XCTAssertEqual(streams.filter { $0.codecType == "video" }.compactMap(\.width).sorted(), [320, 640], "\(streams)")
        XCTAssertEqual(streams.filter { $0.codecType == "audio" }.map(\.codecName), ["aac"], "\(streams)")
        XCTAssertTrue(streams.allSatisfy { $0.packets > 100 }, "\(streams)")
        setup.gateway.terminate()
        setup.gateway.waitUntilExit()
        await setup.receiver.stop()
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}
