import Foundation
@testable import MediaPipeline
import NIOCore
import RTMPCore
import TestSupport
import XCTest

/// Adaptive HLS from a multitrack publish, in-process: FFmpeg 8's multitrack file (H.264 track 0,
/// HEVC track 1, AAC track 0, 5.1 Opus track 1; `scripts/multitrack-fixture.py`) fed to the hub
/// as the listener would, with `onMetaData` naming the audio tracks' languages (`language`, and
/// E-RTMP v2's `audioTrackIdInfoMap`).
extension MediaHubTests {
    func testMultitrackBecomesAdaptiveFMP4HLSWithTheAudioLanguages() async throws {
        let python = try await StandardWebhooksVerifier.python()
        guard try await ProcessRunner.run(python, ["-c", "import av"], timeout: 30).exitCode == 0 else {
            throw XCTSkip("PyAV (PyPI av) is not installed: scripts/python-tools.sh installs it")
        }
        let dir = try MediaTools.temporaryDirectory("media-multitrack")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("multitrack.flv")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/multitrack-fixture.py").path
        let made = try await ProcessRunner.run(python, [script, file.path], timeout: 120)
        XCTAssertEqual(made.exitCode, 0, made.stderr)
        let reader = try FLVFileReader(bytes: ByteBuffer(bytes: try Data(contentsOf: file)))
        var all: [MediaFrame] = []
        for tag in reader.tags where tag.type == 8 || tag.type == 9 {
            all += tag.type == 9 ? try FLVTagParser.parseVideoMessage(tag.body, timestamp: tag.timestamp)
                                 : try FLVTagParser.parseAudioMessage(tag.body, timestamp: tag.timestamp)
        }
        let events = Events()
        let hub = makeHub(dir.appendingPathComponent("data"), events: events) { s in
            s.hlsSegmentSeconds = 0.5 // the clip is 1.5 s, a keyframe every 0.5 s
            s.hlsKeepAfterEndSeconds = 60
        }
        hub.sessionStarted(connectionID: 7)
        hub.metadata(["videocodecid": .number(7), "audiocodecid": .number(10), "language": .string("en"),
                      "audioTrackIdInfoMap": .object(["1": .object(["language": .string("fr"), "channels": .number(6)])])], connectionID: 7)
        hub.configure(connectionID: 7, plan: plan("mt", hls: true, record: false))
        for f in all { hub.media(f, connectionID: 7) }
        let folder = dir.appendingPathComponent("data/hls/mt")
        let master = folder.appendingPathComponent("index.m3u8")
        try await waitUntil(timeout: 20) { ((try? String(contentsOf: master, encoding: .utf8)) ?? "").contains("#EXT-X-STREAM-INF") }
        hub.sessionEnded(connectionID: 7)
        let text = try String(contentsOf: master, encoding: .utf8)
        let variants = text.split(separator: "\n").filter { $0.hasPrefix("#EXT-X-STREAM-INF:") }
        XCTAssertEqual(variants.count, 2, text)
        XCTAssertTrue(variants[0].contains("RESOLUTION=640x360") && variants[0].contains("CODECS=\"avc1."), text)
        XCTAssertTrue(variants[1].contains("RESOLUTION=426x240") && variants[1].contains("CODECS=\"hvc1."), text)
        XCTAssertTrue(variants.allSatisfy { $0.contains("mp4a.40.2") && $0.contains("opus") }, "the audio group's codecs: \(text)")
        XCTAssertTrue(text.contains(#"LANGUAGE="en""#) && text.contains(#"LANGUAGE="fr""#), text)
        XCTAssertTrue(text.contains(#"CHANNELS="6""#), text)
        XCTAssertTrue(text.contains("#EXT-X-VERSION:7"), "HEVC and Opus: fMP4 segments")
        // Each rendition's playlist is fMP4 and plays (Debian's ffprobe, through a snapshot with ENDLIST).
        for (name, codec) in [("v0", "h264"), ("v1", "hevc"), ("a0", "aac"), ("a1", "opus")] {
            let playlist = folder.appendingPathComponent("\(name).m3u8")
            try await waitUntil(timeout: 10) { ((try? String(contentsOf: playlist, encoding: .utf8)) ?? "").contains("#EXTINF") }
            let media = try String(contentsOf: playlist, encoding: .utf8)
            XCTAssertTrue(media.contains("#EXT-X-MAP:URI=") && media.contains(".m4s"), "\(name): \(media)")
            let streams = try await MediaTools.probe(playlist)
            XCTAssertEqual(streams.first?.codecName, codec, "\(name): \(streams)")
        }
    }
}
