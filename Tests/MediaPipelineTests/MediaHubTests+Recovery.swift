import Foundation
import Logging
@testable import MediaPipeline
import RTMPCore
import TestSupport
import XCTest

/// (In MediaHubTests, whose helpers it uses.) A recording survives the process: while live, the `.part` on disk is fragmented MP4, so what
/// a `kill -9` leaves behind — even cut off in the middle of a fragment — becomes a playable MP4.
extension MediaHubTests {
    func testWhatIsOnDiskWhileLiveBecomesAPlayableMP4EvenCutMidFragment() async throws {
        let dir = try MediaTools.temporaryDirectory("recover")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 6, in: dir)
        let source = try await MediaTools.probe(clip)
        let sourceVideo = try XCTUnwrap(source.first { $0.codecType == "video" }?.packets)
        let helper = self
        let all = try helper.frames(clip)
        let events = Events()
        let hub = helper.makeHub(dir.appendingPathComponent("data"), events: events)
        hub.sessionStarted(connectionID: 7)
        hub.metadata(["videocodecid": .number(7), "audiocodecid": .number(10)], connectionID: 7)
        hub.configure(connectionID: 7, plan: helper.plan("chR", hls: false))
        for f in all { hub.media(f, connectionID: 7) }
        let expected = all.filter { $0.packetType == .codedFrames }.count
        try await waitUntil(timeout: 20) { hub.outputs(connectionID: 7).first?.packetsWritten == expected }

        // The session is still live: this is the file a crash would leave.
        let part = dir.appendingPathComponent("data/recordings/chR/ses_chR.mp4.part")
        let live = try Data(contentsOf: part)
        XCTAssertNotNil(live.prefix(64).range(of: Data("ftyp".utf8)))
        XCTAssertNotNil(live.range(of: Data("moof".utf8)), "fragmented while live")
        let crashed = dir.appendingPathComponent("crashed/chR")
        try FileManager.default.createDirectory(at: crashed, withIntermediateDirectories: true)
        let whole = crashed.appendingPathComponent("ses_a.mp4.part")
        try live.write(to: whole)
        // Cut inside the last fragment's media data, as a kill during a write would.
        let lastMoof = try XCTUnwrap(live.range(of: Data("moof".utf8), options: .backwards)).lowerBound
        let cut = crashed.appendingPathComponent("ses_b-2.mp4.part")
        try live.prefix(lastMoof + (live.count - lastMoof) / 2).write(to: cut)
        let empty = crashed.appendingPathComponent("ses_c.mp4.part")
        try live.prefix(20).write(to: empty)

        let recovered = try XCTUnwrap(try MP4Recorder.recover(partPath: whole.path))
        XCTAssertTrue(recovered.path.hasSuffix("crashed/chR/ses_a.mp4"))
        let wholeProbe = try await MediaTools.probe(URL(fileURLWithPath: recovered.path))
        let wholeVideo = try XCTUnwrap(wholeProbe.first { $0.codecType == "video" }?.packets)
        // Only the fragment still being gathered in memory (≤ 1 s, 25 fps) may be missing.
        XCTAssertGreaterThanOrEqual(wholeVideo, sourceVideo - 26)
        XCTAssertEqual(recovered.videoFrames, wholeVideo)
        XCTAssertEqual(recovered.videoCodec, "h264")
        XCTAssertEqual(recovered.audioCodec, "aac")
        XCTAssertEqual(recovered.width, 320)
        XCTAssertGreaterThan(recovered.durationSec, 4.5)
        let head = try FileHandle(forReadingFrom: URL(fileURLWithPath: recovered.path)).readData(ofLength: 64)
        XCTAssertNotNil(head.range(of: Data("moov".utf8)), "faststart")

        let partial = try XCTUnwrap(try MP4Recorder.recover(partPath: cut.path))
        let partialProbe = try await MediaTools.probe(URL(fileURLWithPath: partial.path))
        let partialVideo = try XCTUnwrap(partialProbe.first { $0.codecType == "video" }?.packets)
        XCTAssertGreaterThan(partialVideo, 0)
        XCTAssertLessThanOrEqual(partialVideo, wholeVideo)
        XCTAssertEqual(partial.videoFrames, partialVideo, "ffprobe reads every frame the recovery counted")

        XCTAssertNil(try MP4Recorder.recover(partPath: empty.path), "nothing whole in it")
        XCTAssertFalse(FileManager.default.fileExists(atPath: empty.path), "and it is removed")

        hub.sessionEnded(connectionID: 7)
        let drained = await hub.drain(timeout: .seconds(10))
        XCTAssertTrue(drained)
        XCTAssertFalse(FileManager.default.fileExists(atPath: part.path), "a finished recording leaves no .part")
        let file = try XCTUnwrap(helper.recordings(events).first)
        let finalProbe = try await MediaTools.probe(URL(fileURLWithPath: file.path))
        XCTAssertEqual(finalProbe.first { $0.codecType == "video" }?.packets, sourceVideo, "a clean end keeps every frame")
    }

    func testInterruptedRecordingsAreFoundWithTheirChannelAndSession() throws {
        let dir = try MediaTools.temporaryDirectory("recover-list")
        defer { try? FileManager.default.removeItem(at: dir) }
        let hub = makeHub(dir, events: Events())
        let channel = dir.appendingPathComponent("recordings/ch_x")
        try FileManager.default.createDirectory(at: channel, withIntermediateDirectories: true)
        for name in ["ses_1.mp4.part", "ses_2-3.mp4.part", "ses_3.mp4", "notes.txt"] {
            try Data("x".utf8).write(to: channel.appendingPathComponent(name))
        }
        let found = hub.interruptedRecordings().sorted { $0.sessionId < $1.sessionId }
        XCTAssertEqual(found.map(\.sessionId), ["ses_1", "ses_2"])
        XCTAssertEqual(Set(found.map(\.channelId)), ["ch_x"])
        XCTAssertEqual(found.last?.finalPath, channel.appendingPathComponent("ses_2-3.mp4").path)
    }
}

extension MediaHubTests {
    /// A replacing publisher takes the channel's HLS directory over while the old one is still
    /// writing: the old session stops touching the playlist (no ENDLIST over the new session's
    /// live playlist) and removes only its own segments.
    func testAReplacingSessionOwnsTheHLSPlaylistAndTheOldOneLeavesItAlone() async throws {
        let dir = try MediaTools.temporaryDirectory("hls-handover")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 6, in: dir)
        let all = try frames(clip)
        let hub = makeHub(dir.appendingPathComponent("data"), events: Events())
        let half = all.count / 2
        hub.sessionStarted(connectionID: 21)
        hub.metadata(["videocodecid": .number(7), "audiocodecid": .number(10)], connectionID: 21)
        hub.configure(connectionID: 21, plan: plan("chH", hls: true, record: false))
        for f in all.prefix(half) { hub.media(f, connectionID: 21) }
        let playlist = dir.appendingPathComponent("data/hls/chH/index.m3u8")
        try await waitUntil(timeout: 10) { ((try? String(contentsOf: playlist, encoding: .utf8)) ?? "").contains("c21-") }

        // The replacement starts while the old publisher still sends.
        hub.sessionStarted(connectionID: 22)
        hub.metadata(["videocodecid": .number(7), "audiocodecid": .number(10)], connectionID: 22)
        hub.configure(connectionID: 22, plan: plan("chH", hls: true, record: false))
        for f in all { hub.media(f, connectionID: 22) }
        for f in all.dropFirst(half) { hub.media(f, connectionID: 21) }
        try await waitUntil(timeout: 10) { ((try? String(contentsOf: playlist, encoding: .utf8)) ?? "").contains("c22-") }
        hub.sessionEnded(connectionID: 21)
        try await waitUntil(timeout: 10) { hub.activeOutputs == 1 }

        let text = try String(contentsOf: playlist, encoding: .utf8)
        XCTAssertFalse(text.contains("#EXT-X-ENDLIST"), "the old session's end did not end the live playlist: \(text)")
        XCTAssertFalse(text.contains("c21-"), "only the new session's segments are listed: \(text)")
        let names = try FileManager.default.contentsOfDirectory(atPath: playlist.deletingLastPathComponent().path)
        XCTAssertFalse(names.contains { $0.hasPrefix("c21-") }, "the old session removed its own segments: \(names)")
        XCTAssertTrue(names.contains { $0.hasPrefix("c22-") }, "and left the new one's: \(names)")
        // It dropped its muxer without a trailer: nothing of it may stay open.
        let openFiles = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [])
            .compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0) }
        XCTAssertFalse(openFiles.contains { $0.contains("/hls/chH/c21-") }, "no file of the superseded session left open: \(openFiles)")

        hub.sessionEnded(connectionID: 22)
        let drained = await hub.drain(timeout: .seconds(10))
        XCTAssertTrue(drained)
        XCTAssertFalse(FileManager.default.fileExists(atPath: playlist.deletingLastPathComponent().path), "the last owner cleans up")
    }
}
