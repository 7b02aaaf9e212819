import Foundation
import TestSupport
import XCTest

/// Issue #23 item 3 (docs/contract.md §4, "Thumbnails"), with the real gateway: a live
/// channel's picture for H.264 (Debian's ffmpeg) and HEVC, AV1 and VP9 (FFmpeg 8's encoders
/// and Enhanced-RTMP muxer, through PyAV), each JPEG read back by ffprobe with its size; the
/// `width` parameter; 503 with Retry-After until a keyframe is held; 404 for an offline channel;
/// a picture reused within `thumbnails.intervalSec`.
final class ThumbnailTests: XCTestCase {
    func fetch(_ setup: LiveSetup, _ id: String, query: String = "", to file: URL) async throws -> (status: Int, headers: String) {
        let r = try await ProcessRunner.run("curl", ["-s", "-D", "-", "-o", file.path, "-u", "tok_thumbs:thumbs-secret-0123456789",
                                                     "\(setup.api)/v1/channels/\(id)/thumbnail.jpg\(query)"], timeout: 20)
        let status = Int(r.stdout.split(separator: " ").dropFirst().first ?? "") ?? 0
        return (status, r.stdout)
    }

    /// Polls until the picture is made (the first ask starts holding keyframes).
    func picture(_ setup: LiveSetup, _ id: String, query: String = "", dir: URL, name: String) async throws -> (MediaTools.StreamInfo?, String) {
        let file = dir.appendingPathComponent(name)
        var last = (status: 0, headers: "")
        let made = try await eventually(20, every: .milliseconds(300)) {
            last = try await self.fetch(setup, id, query: query, to: file)
            return last.status == 200
        }
        guard made else { return (nil, last.headers) }
        return (try await MediaTools.probe(file).first, last.headers)
    }

    func testALiveChannelsPictureForEveryVideoCodec() async throws {
        let dir = try MediaTools.temporaryDirectory("thumbs")
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freePorts()
        let setup = try await liveSetup(dir: dir, port: port, token: "thumbs")
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }

        // Offline: 404 in the envelope.
        let offline = try await fetch(setup, setup.channelID, to: dir.appendingPathComponent("none.jpg"))
        XCTAssertEqual(offline.status, 404)
        XCTAssertTrue((try? String(contentsOf: dir.appendingPathComponent("none.jpg"), encoding: .utf8))?.contains("\"ec\":4040") == true)

        let clip = try await MediaTools.makeClip(seconds: 4, size: "640x360", fps: 25, in: dir)
        let ffmpeg = try startPublisher(clip, url: "rtmp://127.0.0.1:\(port)/live/\(setup.key)", seconds: 60)
        defer { if ffmpeg.isRunning { kill(ffmpeg.processIdentifier, SIGKILL) } }
        let live = await setup.receiver.wait(timeout: 20) { $0.contains { $0.type == "channel.live" } }
        XCTAssertTrue(live)
        // Nobody asked yet: no keyframe held, so the first answer is 503 with Retry-After.
        let first = try await fetch(setup, setup.channelID, to: dir.appendingPathComponent("first.jpg"))
        XCTAssertEqual(first.status, 503, first.headers)
        XCTAssertTrue(first.headers.lowercased().contains("retry-after: 2"), first.headers)

        let (h264, headers) = try await picture(setup, setup.channelID, dir: dir, name: "h264.jpg")
        XCTAssertEqual(h264?.codecName, "mjpeg", headers)
        XCTAssertEqual(h264?.width, 640)
        XCTAssertEqual(h264?.height, 360)
        let (small, _) = try await picture(setup, setup.channelID, query: "?width=320", dir: dir, name: "h264-320.jpg")
        XCTAssertEqual(small?.width, 320)
        XCTAssertEqual(small?.height, 180)
        // Within the interval the same picture is served (no second decode).
        let a = try await fetch(setup, setup.channelID, to: dir.appendingPathComponent("a.jpg"))
        let b = try await fetch(setup, setup.channelID, to: dir.appendingPathComponent("b.jpg"))
        func takenAt(_ h: String) -> String? { h.split(separator: "\r\n").first { $0.lowercased().hasPrefix("x-thumbnail-taken-at") }.map(String.init) }
        XCTAssertEqual(takenAt(a.headers), takenAt(b.headers))
        XCTAssertNotNil(takenAt(a.headers), a.headers)
        let metrics = try await ProcessRunner.run("curl", ["-s", "\(setup.api)/metrics"], timeout: 10).stdout
        let decodes = metrics.split(separator: "\n").first { $0.hasPrefix("livegate_thumbnail_decodes_total ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
        XCTAssertEqual(decodes, 2, "one decode per width within the interval: \(metrics.split(separator: "\n").filter { $0.contains("thumbnail") })")
        let bad = try await fetch(setup, setup.channelID, query: "?width=5", to: dir.appendingPathComponent("bad.jpg"))
        XCTAssertEqual(bad.status, 400)
        kill(ffmpeg.processIdentifier, SIGINT)

        // HEVC, AV1 and VP9 as today's encoders send them.
        let python = try await StandardWebhooksVerifier.python()
        guard try await ProcessRunner.run(python, ["-c", "import av"], timeout: 30).exitCode == 0 else {
            throw XCTSkip("PyAV (PyPI av) is not installed: scripts/python-tools.sh installs it")
        }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/publish-multitrack.py").path
        for (encoder, codec, width, height) in [("libx265", "hevc", 640, 360), ("libsvtav1", "av1", 480, 272), ("libvpx-vp9", "vp9", 426, 240)] {
            let created = try await setup.curl(["-X", "POST", "\(setup.api)/v1/channels", "--json", #"{"name":"\#(codec)","userId":"u1"}"#])
            let channel = try XCTUnwrap(created["data"] as? [String: Any], "\(created)")
            let (id, key) = (try XCTUnwrap(channel["id"] as? String), try XCTUnwrap(channel["streamId"] as? String))
            let publisher = Task {
                try await ProcessRunner.run(python, [script, "rtmp://127.0.0.1:\(port)/live/\(key)", "12", "\(width)x\(height):\(encoder)"], timeout: 90)
            }
            let (shot, headers) = try await picture(setup, id, dir: dir, name: "\(codec).jpg")
            var publisherOutput = ""
            if shot == nil {
                let result = try await publisher.value
                publisherOutput = "publisher exit \(result.exitCode) after \(Int(result.duration)) s:\n\(result.stderr.suffix(3000))\(gatewayLog(dir))"
            }
            XCTAssertEqual(shot?.codecName, "mjpeg", "\(codec): \(headers) \(publisherOutput)")
            XCTAssertEqual(shot?.width, width, codec)
            XCTAssertEqual(shot?.height, height, codec)
            _ = try await publisher.value
        }
    }
}
