import Foundation
import Synchronization
import RTMPCore
import RTMPServer
import TestSupport
import XCTest

/// End to end with the real `ffmpeg`: every frame the source has must reach the sink, with the
/// codec parameters ffprobe reports, both paced (`-re`) and flat out.
final class FFmpegPublishTests: XCTestCase {
    var dir: URL!

    override func setUp() async throws {
        dir = try MediaTools.temporaryDirectory("publish")
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func testRealtimePublishDeliversEveryFrame() async throws {
        try await publishAndCompare(realtime: true)
    }

    func testFlatOutPublishDeliversEveryFrame() async throws {
        try await publishAndCompare(realtime: false)
    }

    private func publishAndCompare(realtime: Bool) async throws {
        let clip = try await MediaTools.makeClip(seconds: 5, in: dir)
        let source = try await MediaTools.probe(clip)
        let video = try XCTUnwrap(source.first { $0.codecType == "video" })
        let audio = try XCTUnwrap(source.first { $0.codecType == "audio" })
        XCTAssertGreaterThan(video.packets, 100)

        let server = try await TestServer.start(keys: ["KEY"])
        let args = (realtime ? ["-re"] : []) + ["-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv", server.url("KEY")]
        let result = try await ProcessRunner.run("ffmpeg", args, timeout: 30)
        XCTAssertEqual(result.exitCode, 0, result.stderr)

        let ended = await server.sink.waitForEnd("KEY")
        let stream = try XCTUnwrap(ended)
        XCTAssertTrue(stream.started)
        XCTAssertEqual(stream.endReason, .unpublished)
        XCTAssertEqual(stream.videoFrames, video.packets, "video frames")
        XCTAssertEqual(stream.audioFrames, audio.packets, "audio frames")
        XCTAssertEqual(stream.nonMonotonicDTS, 0)
        XCTAssertEqual(stream.keyframes, 3, "5 s at a 2 s GOP")
        XCTAssertEqual(stream.videoSequenceHeaders, 1)
        XCTAssertEqual(stream.audioSequenceHeaders, 1)

        let stats = try XCTUnwrap(stream.stats)
        XCTAssertEqual(stats.video?.codec, .h264)
        XCTAssertEqual(stats.video?.profileName, video.profile)
        XCTAssertEqual(stats.video?.width, video.width)
        XCTAssertEqual(stats.video?.height, video.height)
        XCTAssertEqual(stats.audio?.codec, .aac)
        XCTAssertEqual(stats.audio?.sampleRate, audio.sampleRate)
        XCTAssertEqual(stats.audio?.channels, audio.channels)
        XCTAssertEqual(stats.timestampRepairs, 0)
        XCTAssertEqual(stream.metadata?["width"]?.numberValue, Double(video.width ?? 0))
        // `/stats` counts what the listener recorded a read at a time (docs/architecture.md
        // "Merged reads"): every frame ffprobe sees in the clip, none left in a read's batch
        // when the publisher went (flat out, a read holds hundreds of frames).
        let live = try XCTUnwrap(stream.sessions.last).stats
        XCTAssertEqual(live.videoFrames, video.packets, "video frames in /stats")
        XCTAssertEqual(live.audioFrames, audio.packets, "audio frames in /stats")
        XCTAssertEqual(live.keyframeIntervalSec ?? 0, 2, accuracy: 0.1, "a 2 s GOP")
        XCTAssertEqual(live.video?.width, video.width)

        // One structured line per ingest event, with connection and remote on each, no secret.
        func line(_ message: String) -> [String: String]? { server.logs.all.first { $0.message == message }?.metadata }
        XCTAssertEqual(line("rtmp connect")?["app"], "live")
        XCTAssertTrue(line("rtmp connect")?["encoder"]?.hasPrefix("FMLE/3.0") == true)
        XCTAssertEqual(line("publish accepted")?["key"], "KEY…(3)")
        XCTAssertEqual(line("video codec")?["profile"], video.profile)
        XCTAssertEqual(line("audio codec")?["sampleRate"], String(audio.sampleRate ?? 0))
        let endedLine = try XCTUnwrap(line("publish ended"))
        XCTAssertEqual(endedLine["reason"], "unpublished")
        XCTAssertEqual(endedLine["frames.video"], String(video.packets))
        // "connection closed" is logged when the socket's close completes, just after ffmpeg's exit.
        for _ in 0..<100 where line("connection closed") == nil { try await Task.sleep(for: .milliseconds(20)) }
        for name in ["connection accepted", "rtmp connect", "publish accepted", "publish ended", "connection closed"] {
            let meta = try XCTUnwrap(line(name), name)
            XCTAssertNotNil(meta["rtmp.connection.id"], name)
            XCTAssertTrue(meta["remote"]?.hasPrefix("127.0.0.1:") == true, name)
        }
        await server.stop()
    }

    func testRefusedKeyFailsFastWithStatusInStderr() async throws {
        let clip = try await MediaTools.makeClip(seconds: 5, in: dir)
        let server = try await TestServer.start(keys: ["KEY"])
        let result = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-re", "-i", clip.path, "-c", "copy", "-f", "flv", server.url("WRONG")], timeout: 10)
        XCTAssertNotEqual(result.exitCode, 0)
        XCTAssertTrue(result.stderr.contains("NetStream.Publish.Unauthorized"), result.stderr)
        XCTAssertNil(server.sink.stream("WRONG"))
        let rejected = server.logs.matching { $0.message == "publish rejected" }
        XCTAssertEqual(rejected.count, 1)
        XCTAssertEqual(rejected.first?.metadata["key"], "WRON…(5)", "only a masked key is logged")
        XCTAssertFalse(server.logs.all.contains { $0.metadata.values.contains("WRONG") || $0.message.contains("WRONG") })
        await server.stop()
    }

    func testQueryStringAfterKeyIsIgnored() async throws {
        let clip = try await MediaTools.makeClip(seconds: 5, in: dir)
        let server = try await TestServer.start(keys: ["KEY"])
        let result = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-t", "1", "-i", clip.path, "-c", "copy", "-f", "flv", server.url("KEY?token=abc")], timeout: 20)
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        let stream = await server.sink.waitForEnd("KEY")
        XCTAssertEqual(stream?.started, true)
        await server.stop()
    }

    func testUnknownAppIsRejected() async throws {
        let clip = try await MediaTools.makeClip(seconds: 5, in: dir)
        let server = try await TestServer.start(keys: ["KEY"])
        let result = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-i", clip.path, "-c", "copy", "-f", "flv", server.url("KEY", app: "other")], timeout: 10)
        XCTAssertNotEqual(result.exitCode, 0)
        XCTAssertTrue(result.stderr.contains("NetConnection.Connect.Rejected"), result.stderr)
        await server.stop()
    }

    func testThrottleRefusesWithoutLookupAfterRepeatedFailures() async throws {
        let clip = try await MediaTools.makeClip(seconds: 5, in: dir)
        let counting = CountingAuthorizer(accept: [])
        let server = try await TestServer.start(authorizer: counting) { $0.failedPublishesPerMinute = 3 }
        for _ in 0..<5 {
            let result = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-t", "1", "-i", clip.path, "-c", "copy", "-f", "flv", server.url("NOPE")], timeout: 10)
            XCTAssertNotEqual(result.exitCode, 0)
            XCTAssertTrue(result.stderr.contains("NetStream.Publish.Unauthorized"), result.stderr)
        }
        XCTAssertEqual(counting.calls, 3, "after 3 failures the authorizer is no longer asked")
        await server.stop()
    }
}

/// Counts authorizer calls; accepts only the given keys.
final class CountingAuthorizer: IngestAuthorizer {
    private let accepted: Set<String>
    private let count = Mutex(0)

    init(accept: Set<String>) { accepted = accept }

    var calls: Int { count.withLock { $0 } }

    func authorize(_ request: PublishRequest, connectionID: UInt64, remoteAddress: String) async -> PublishDecision {
        count.withLock { $0 += 1 }
        return accepted.contains(request.streamKey) ? .accept : .reject(.error(.publishUnauthorized, "unknown stream key"))
    }
}
