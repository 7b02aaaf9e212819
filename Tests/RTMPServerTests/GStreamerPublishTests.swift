import Foundation
import RTMPServer
import TestSupport
import XCTest

/// A second, independent client implementation: GStreamer's `rtmp2sink`.
final class GStreamerPublishTests: XCTestCase {
    func testRtmp2SinkPublishDeliversEveryFrame() async throws {
        guard (try? ProcessRunner.which("gst-launch-1.0")) != nil else {
            throw XCTSkip("gst-launch-1.0 is not installed (make test installs it)")
        }
        let dir = try MediaTools.temporaryDirectory("gst")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 5, in: dir)
        let source = try await MediaTools.probe(clip)
        let server = try await TestServer.start(keys: ["GSTKEY"])
        let pipeline = "filesrc location=\(clip.path) ! flvdemux name=d d.video ! queue ! h264parse ! flvmux name=m streamable=true "
            + "! rtmp2sink location=\(server.url("GSTKEY")) d.audio ! queue ! aacparse ! m."
        let result = try await ProcessRunner.run("gst-launch-1.0", ["-q"] + pipeline.split(separator: " ").map(String.init), timeout: 30)
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        let ended = await server.sink.waitForEnd("GSTKEY")
        let stream = try XCTUnwrap(ended)
        XCTAssertEqual(stream.videoFrames, source.first { $0.codecType == "video" }?.packets)
        XCTAssertEqual(stream.audioFrames, source.first { $0.codecType == "audio" }?.packets)
        XCTAssertEqual(stream.nonMonotonicDTS, 0)
        XCTAssertEqual(stream.stats?.video?.width, 320)
        await server.stop()
    }
}
