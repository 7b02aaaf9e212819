import NIOCore
import RTMPCore
import XCTest

/// Replays bytes recorded from real publishers (scripts/record-fixture.py) through the full
/// server state machine, whole, byte by byte and in random splits.
final class FixtureReplayTests: XCTestCase {
    /// `ffmpeg -i tiny.flv -c copy -f flv rtmp://…/live/fixturekey` (ffmpeg 5.1, Lavf59):
    /// 2 s of 160x120 H.264 Baseline at 15 fps and mono AAC at 22,050 Hz; ffprobe counts
    /// 30 video and 45 audio packets in the source.
    func testFFmpegPublishFixture() throws {
        let bytes = try fixture("ffmpeg-publish.bin")
        let outcome = MachineDriver.verifySplits(bytes)
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.actions.prefix(4), ["handshake(digest)", "connected(live)", "authorize(live,fixturekey)", "publishStarted"],
                       "ffmpeg sends a digest C1, which must verify with the Flash Player key")
        XCTAssertTrue(outcome.actions.contains("metadata"))
        XCTAssertTrue(outcome.actions.contains("media(video,h264,sequenceHeader)"))
        XCTAssertTrue(outcome.actions.contains("media(audio,aac,sequenceHeader)"))
        XCTAssertEqual(outcome.videoFrames, 30)
        XCTAssertEqual(outcome.audioFrames, 45)
        XCTAssertEqual(outcome.keyframes, 2)
        XCTAssertEqual(outcome.videoDTS, outcome.videoDTS.sorted())
        XCTAssertEqual(Set(outcome.videoDTS).count, outcome.videoDTS.count, "strictly increasing")
        XCTAssertEqual(outcome.actions.last, "unpublished")
    }

    func testFFmpegFixtureParsesCodecParameters() throws {
        var driver = MachineDriver()
        driver.feed(try fixture("ffmpeg-publish.bin"))
        XCTAssertEqual(driver.machine.videoParameters?.codec, .h264)
        XCTAssertEqual(driver.machine.videoParameters?.profileName, "Baseline")
        XCTAssertEqual(driver.machine.videoParameters?.width, 160)
        XCTAssertEqual(driver.machine.videoParameters?.height, 120)
        XCTAssertEqual(driver.machine.videoParameters?.frameRate, 15)
        XCTAssertEqual(driver.machine.audioParameters, AudioCodecParameters(codec: .aac, sampleRate: 22050, channels: 1, objectType: 2))
        XCTAssertEqual(driver.machine.metadata?["width"]?.numberValue, 160)
        XCTAssertEqual(driver.machine.connectInfo?.flashVer?.hasPrefix("FMLE/3.0"), true)
    }

    func testRejectedPublishClosesAfterStatus() throws {
        let outcome = MachineDriver.verifySplits(try fixture("ffmpeg-publish.bin"),
                                                 decision: .reject(.error(.publishBadName, "already publishing")))
        XCTAssertEqual(outcome.actions.last, "close(publish rejected: NetStream.Publish.BadName)")
        XCTAssertEqual(outcome.videoFrames, 0)
    }

    /// GStreamer's `rtmp2sink` (1.22) fed by `flvdemux ! h264parse/aacparse ! flvmux` from the same
    /// tiny.flv: a different client implementation (its own handshake, chunking and commands).
    func testGStreamerRtmp2SinkFixture() throws {
        let outcome = MachineDriver.verifySplits(try fixture("gstreamer-rtmp2sink-publish.bin"))
        XCTAssertNil(outcome.error)
        XCTAssertTrue(outcome.actions.contains("connected(live)"))
        XCTAssertTrue(outcome.actions.contains("authorize(live,gstkey)"))
        XCTAssertTrue(outcome.actions.contains("publishStarted"))
        XCTAssertEqual(outcome.videoFrames, 30)
        XCTAssertEqual(outcome.audioFrames, 45)
        XCTAssertEqual(Set(outcome.videoDTS).count, outcome.videoDTS.count)
    }
}
