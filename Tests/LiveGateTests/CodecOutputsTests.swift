import Foundation
import TestSupport
import XCTest

/// Issue #22 ("done when", first part): HEVC, AV1 and VP9 publishes — written by FFmpeg 8's
/// encoders and Enhanced-RTMP muxer through PyAV (`scripts/publish-codec.py`), as today's
/// encoders send them — each show their true size in the session's media and `/stats`, and
/// record to an MP4 that Debian's ffprobe reads with the same codec and size, and play as HLS
/// in fMP4 segments; their Opus, AC-3 and FLAC audio is recorded and played too. (Before: no
/// size, `avformat_write_header: Invalid argument` — no recording at all — and AV1/VP9 HLS
/// segments that carried the picture as unknown data.)
final class CodecOutputsTests: XCTestCase {
    func testHEVCAV1AndVP9AreMeasuredRecordedAndPlayedAsHLS() async throws {
        let python = try await StandardWebhooksVerifier.python()
        guard try await ProcessRunner.run(python, ["-c", "import av"], timeout: 30).exitCode == 0 else {
            throw XCTSkip("PyAV (PyPI av) is not installed: scripts/python-tools.sh installs it")
        }
        let dir = try MediaTools.temporaryDirectory("codecs")
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freePorts()
        let setup = try await liveSetup(dir: dir, port: port, token: "codecs", record: true)
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/publish-multitrack.py").path
        // Each with an audio codec of today's encoders: Opus, AC-3, FLAC (FourCC audio).
        let cases: [(encoder: String, codec: String, width: Int, height: Int, audioEncoder: String, audio: String)] = [
            ("libx265", "hevc", 640, 360, "libopus", "opus"), ("libsvtav1", "av1", 480, 272, "ac3", "ac3"),
            ("libvpx-vp9", "vp9", 426, 240, "flac", "flac"),
        ]
        for (index, c) in cases.enumerated() {
            let created = try await setup.curl(["-X", "POST", "\(setup.api)/v1/channels", "--json", #"{"name":"\#(c.codec)","userId":"u1","record":true}"#])
            let channel = try XCTUnwrap(created["data"] as? [String: Any], "\(created)")
            let (id, key) = (try XCTUnwrap(channel["id"] as? String), try XCTUnwrap(channel["streamId"] as? String))
            let publisher = Task {
                try await ProcessRunner.run(python, [script, "rtmp://127.0.0.1:\(port)/live/\(key)", "5", "\(c.width)x\(c.height):\(c.encoder)",
                                                     "--audio", c.audioEncoder], timeout: 90)
            }
            // While live: /stats names the codec and its size.
            var stats: [String: Any] = [:]
            let measured = try await eventually(30, every: .milliseconds(250)) {
                stats = (try await setup.curl(["\(setup.api)/v1/channels/\(id)/stats"])["data"] as? [String: Any]) ?? [:]
                return (stats["video"] as? [String: Any])?["width"] as? Int != nil
            }
            if !measured {
                let published = try await publisher.value
                XCTFail("\(c.codec): \(stats)\npublisher exit \(published.exitCode) after \(Int(published.duration)) s:\n\(published.stderr.suffix(3000))\(gatewayLog(dir))")
            }
            let video = stats["video"] as? [String: Any] ?? [:]
            XCTAssertEqual(video["codec"] as? String, c.codec)
            XCTAssertEqual(video["width"] as? Int, c.width, c.codec)
            XCTAssertEqual(video["height"] as? Int, c.height, c.codec)
            XCTAssertEqual(video["bitDepth"] as? Int, 8, c.codec)
            XCTAssertEqual(video["chromaFormat"] as? String, "4:2:0", c.codec)
            // HLS in the codec's own right: fMP4 segments (MPEG-TS carried AV1 and VP9 as unknown
            // data), played by Debian's ffprobe through the API's HLS route.
            let hls = "http://127.0.0.1:\(port + 1)/hls/\(id)/index.m3u8"
            var playlist = ""
            let segmented = try await eventually(30, every: .milliseconds(250)) {
                playlist = try await ProcessRunner.run("curl", ["-s", "-f", hls], timeout: 10).stdout
                return playlist.contains(".m4s")
            }
            XCTAssertTrue(segmented && playlist.contains("#EXT-X-MAP:URI=\""), "\(c.codec): \(playlist)")
            let played = try await MediaTools.probe(path: hls)
            XCTAssertEqual(played.first { $0.codecType == "video" }?.codecName, c.codec, "\(c.codec): \(played)")
            XCTAssertEqual(played.first { $0.codecType == "video" }?.width, c.width, "\(c.codec): \(played)")
            XCTAssertEqual(played.first { $0.codecType == "audio" }?.codecName, c.audio, "\(c.codec): \(played)")
            let published = try await publisher.value
            XCTAssertEqual(published.exitCode, 0, published.stderr.suffix(1500).description)
            // The recording: listed with its size, and an MP4 ffprobe reads as the same codec and size.
            let ready = await setup.receiver.wait(timeout: 30) { $0.filter { $0.type == "video.ready" }.count >= index + 1 }
            XCTAssertTrue(ready, "\(c.codec): no recording: " + ((try? String(contentsOf: dir.appendingPathComponent("before.log"), encoding: .utf8)) ?? "").suffix(3000))
            let videos = try await setup.curl(["\(setup.api)/v1/videos?channelId=\(id)"])
            guard let recorded = ((videos["data"] as? [String: Any])?["items"] as? [[String: Any]])?.first, let videoId = recorded["id"] as? String else {
                XCTFail("\(c.codec): \(videos)")
                continue
            }
            XCTAssertEqual(recorded["videoCodec"] as? String, c.codec)
            XCTAssertEqual(recorded["width"] as? Int, c.width)
            // Its poster: the first keyframe as a JPEG, made when the recording was finished.
            let poster = dir.appendingPathComponent("\(c.codec)-poster.jpg")
            let posted = try await eventually(15, every: .milliseconds(300)) {
                try await ProcessRunner.run("curl", ["-s", "-f", "-u", "tok_codecs:codecs-secret-0123456789", "-o", poster.path,
                                                     "\(setup.api)/v1/videos/\(videoId)/thumbnail.jpg"], timeout: 10).exitCode == 0
            }
            XCTAssertTrue(posted, "\(c.codec): no poster")
            let posterInfo = try await MediaTools.probe(poster).first
            XCTAssertEqual(posterInfo?.codecName, "mjpeg", c.codec)
            XCTAssertEqual(posterInfo?.width, c.width, c.codec)
            XCTAssertEqual(posterInfo?.height, c.height, c.codec)
            let mp4 = dir.appendingPathComponent("\(c.codec).mp4")
            let download = try await ProcessRunner.run("curl", ["-s", "-f", "-u", "tok_codecs:codecs-secret-0123456789", "-o", mp4.path,
                                                                "\(setup.api)/v1/videos/\(videoId)/file"], timeout: 30)
            XCTAssertEqual(download.exitCode, 0)
            let streams = try await MediaTools.probe(mp4)
            let track = try XCTUnwrap(streams.first { $0.codecType == "video" }, "\(c.codec): \(streams)")
            XCTAssertEqual(track.codecName, c.codec)
            XCTAssertGreaterThan(track.packets, 60, "\(c.codec): the seconds published")
            let size = try await ProcessRunner.run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0",
                                                               mp4.path], timeout: 20)
            XCTAssertEqual(size.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "\(c.width),\(c.height)", c.codec)
            let sound = try XCTUnwrap(streams.first { $0.codecType == "audio" }, "\(c.codec): \(streams)")
            XCTAssertEqual(sound.codecName, c.audio, "the recording keeps the \(c.audio) track")
            XCTAssertGreaterThan(sound.packets, 50, c.audio)
        }
        setup.gateway.terminate()
        setup.gateway.waitUntilExit()
        await setup.receiver.stop()
    }
}
