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
    /// A replacing publisher joins the session's outputs: the old connection stops feeding
    /// them at once, the HLS playlist goes on (no ENDLIST, a discontinuity, segments of both
    /// connections, media sequence never restarting), and the recording is one file.
    func testAReplacingConnectionContinuesTheSessionsOutputs() async throws {
        let dir = try MediaTools.temporaryDirectory("hls-handover")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 6, in: dir)
        let all = try frames(clip)
        let events = Events()
        let hub = makeHub(dir.appendingPathComponent("data"), events: events)
        let half = all.count / 2
        hub.sessionStarted(connectionID: 21)
        hub.metadata(["videocodecid": .number(7), "audiocodecid": .number(10)], connectionID: 21)
        hub.configure(connectionID: 21, plan: plan("chH", hls: true, record: true))
        for f in all.prefix(half) { hub.media(f, connectionID: 21) }
        let playlist = dir.appendingPathComponent("data/hls/chH/index.m3u8")
        try await waitUntil(timeout: 10) { ((try? String(contentsOf: playlist, encoding: .utf8)) ?? "").contains(".ts") }
        let before = try String(contentsOf: playlist, encoding: .utf8)

        // A player polling the playlist through the hand-over never sees it end.
        let watcher = Task.detached { () -> [String] in
            var seen: [String] = []
            while !Task.isCancelled {
                if let text = try? String(contentsOf: playlist, encoding: .utf8), text.contains("#EXT-X-ENDLIST") { seen.append(text) }
                try? await Task.sleep(for: .milliseconds(2))
            }
            return seen
        }
        // The replacement starts while the old publisher still sends; its timestamps start at 0.
        hub.sessionStarted(connectionID: 22)
        hub.metadata(["videocodecid": .number(7), "audiocodecid": .number(10)], connectionID: 22)
        hub.configure(connectionID: 22, plan: plan("chH", hls: true, record: true))
        for f in all.dropFirst(half) { hub.media(f, connectionID: 21) } // ignored from now on
        for f in all { hub.media(f, connectionID: 22) }
        hub.connectionEnded(connectionID: 21)
        try await waitUntil(timeout: 15) {
            let text = (try? String(contentsOf: playlist, encoding: .utf8)) ?? ""
            return text.contains("#EXT-X-DISCONTINUITY") && text.components(separatedBy: ".ts").count - 1 >= 4
        }
        watcher.cancel()
        let ended = await watcher.value
        XCTAssertTrue(ended.isEmpty, "the playlist carried EXT-X-ENDLIST during the hand-over: \(ended.first ?? "")")
        let during = try String(contentsOf: playlist, encoding: .utf8)
        XCTAssertFalse(during.contains("#EXT-X-ENDLIST"), during)
        XCTAssertGreaterThanOrEqual(Self.mediaSequence(during), Self.mediaSequence(before), "the media sequence never goes back")
        let names = during.split(separator: "\n").filter { $0.hasSuffix(".ts") }
        XCTAssertEqual(Set(names).count, names.count, "no segment name reused: \(during)")
        XCTAssertEqual(hub.activeOutputs, 2, "one HLS and one recording for the session, not one per connection")

        hub.endSession(sessionId: "ses_chH")
        let drained = await hub.drain(timeout: .seconds(10))
        XCTAssertTrue(drained)
        XCTAssertFalse(FileManager.default.fileExists(atPath: playlist.deletingLastPathComponent().path), "the session's end cleans up")
        let files = recordings(events)
        XCTAssertEqual(files.map { ($0.path as NSString).lastPathComponent }, ["ses_chH.mp4"], "one recording for the session")
        let probed = try await MediaTools.probe(URL(fileURLWithPath: try XCTUnwrap(files.first).path))
        func videoFrames(_ frames: some Sequence<MediaFrame>) -> Int { frames.filter { $0.kind == .video && $0.packetType == .codedFrames }.count }
        XCTAssertEqual(probed.first { $0.codecType == "video" }?.packets, videoFrames(all.prefix(half)) + videoFrames(all),
                       "the first half from the old publisher, the whole clip from the new one")
    }

    /// A reconnect inside the window: the outputs wait without a connection, then continue —
    /// one MP4 whose duration covers both connections and the gap, timestamps never rewinding.
    func testAReconnectContinuesTheRecordingAndADifferentLayoutStartsThePartTwo() async throws {
        let dir = try MediaTools.temporaryDirectory("reconnect-record")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 3, in: dir)
        let large = try await MediaTools.makeClip(seconds: 3, size: "640x360", in: dir, name: "large.flv")
        let events = Events()
        let hub = makeHub(dir.appendingPathComponent("data"), events: events)
        let p = plan("chR2", hls: false, record: true)
        for (connection, file) in [(UInt64(31), clip), (32, clip), (33, large)] {
            hub.sessionStarted(connectionID: connection)
            hub.metadata(["videocodecid": .number(7), "audiocodecid": .number(10)], connectionID: connection)
            hub.configure(connectionID: connection, plan: p)
            for f in try frames(file) { hub.media(f, connectionID: connection) }
            hub.connectionEnded(connectionID: connection)
            try await Task.sleep(for: .milliseconds(300)) // the gap between connections
            if connection == 32 { XCTAssertTrue(recordings(events).isEmpty, "nothing finishes while the session goes on with the same layout") }
        }
        hub.endSession(sessionId: p.sessionId)
        let drained = await hub.drain(timeout: .seconds(15))
        XCTAssertTrue(drained)
        let files = recordings(events).sorted { $0.path < $1.path }
        XCTAssertEqual(files.map { ($0.path as NSString).lastPathComponent }, ["ses_chR2-2.mp4", "ses_chR2.mp4"])
        let continued = try XCTUnwrap(files.first { $0.path.hasSuffix("ses_chR2.mp4") })
        let probed = try await MediaTools.probe(URL(fileURLWithPath: continued.path))
        XCTAssertEqual(probed.first { $0.codecType == "video" }?.packets, 150, "both 3 s connections at 25 fps in one file")
        XCTAssertGreaterThan(continued.durationSec, 6.2, "the gap is a gap, not a rewind")
        XCTAssertLessThan(continued.durationSec, 8)
        XCTAssertEqual(files.first { $0.path.hasSuffix("-2.mp4") }?.width, 640, "the changed layout is the next part")
    }

    static func mediaSequence(_ playlist: String) -> Int {
        guard let line = playlist.split(separator: "\n").first(where: { $0.hasPrefix("#EXT-X-MEDIA-SEQUENCE:") }) else { return -1 }
        return Int(line.dropFirst("#EXT-X-MEDIA-SEQUENCE:".count)) ?? -1
    }
}
