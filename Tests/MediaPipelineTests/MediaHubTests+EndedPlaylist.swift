import Foundation
import MediaPipeline
import TestSupport
import XCTest

/// Issue #19 item 7: at the session's end the playlist gets EXT-X-ENDLIST — once, at the end,
/// never at a connection's hand-over (tested in `testAReplacingConnectionContinuesTheSessionsOutputs`)
/// — and stays with its segments for `hlsKeepAfterEndSeconds`, playable to its end.
extension MediaHubTests {
    func testAnEndedSessionsPlaylistEndsWithEndListAndIsKept() async throws {
        let dir = try MediaTools.temporaryDirectory("ended-playlist")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 6, in: dir)
        let all = try frames(clip)
        let events = Events()
        let hub = makeHub(dir.appendingPathComponent("data"), events: events) { $0.hlsKeepAfterEndSeconds = 3600 }
        hub.sessionStarted(connectionID: 5)
        hub.metadata(["videocodecid": .number(7), "audiocodecid": .number(10)], connectionID: 5)
        hub.configure(connectionID: 5, plan: plan("chE", record: false))
        for f in all { hub.media(f, connectionID: 5) }
        let playlist = dir.appendingPathComponent("data/hls/chE/index.m3u8")
        try await waitUntil(timeout: 20) { ((try? String(contentsOf: playlist, encoding: .utf8)) ?? "").contains(".ts") }
        hub.sessionEnded(connectionID: 5)
        let drained = await hub.drain(timeout: .seconds(10))
        XCTAssertTrue(drained)
        let text = try String(contentsOf: playlist, encoding: .utf8)
        XCTAssertTrue(text.hasSuffix("#EXT-X-ENDLIST\n"), text)
        XCTAssertEqual(text.components(separatedBy: "#EXT-X-ENDLIST").count - 1, 1, "once")
        // Playable to its end as it is (no snapshot needed now): ffprobe reads every segment.
        let streams = try await MediaTools.probe(playlist)
        XCTAssertEqual(streams.first { $0.codecType == "video" }?.codecName, "h264")
        XCTAssertGreaterThan(streams.first { $0.codecType == "video" }?.packets ?? 0, 100)
    }
}
