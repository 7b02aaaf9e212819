import ChannelStore
import Foundation
import IngestCore
import LiveGateModel
import XCTest

/// Insights on both stores (docs/api.md, "Insights"): sessions of known length recorded as the
/// gateway records them (acquire, connection figures, end), summed by UTC hour and day —
/// across hour and day edges, with a session still open, a range not on bucket edges, one
/// channel, the peaks of live channels, refusals and limit events from the log.
extension ChannelStoreConformanceTests {
    private func at(_ text: String) -> Date { Timestamp.parse(text) }

    private func start(_ session: String, channel: String, at time: String) async throws {
        let record = SessionRecord(id: p + session, channelId: p + channel, nodeId: "A", startedAt: at(time), remoteAddr: "10.0.0.1:1", encoder: "ffmpeg")
        let event = NewEvent.make(type: "channel.live", channelId: p + channel, userId: p + "u", at: at(time), data: .object([:]))
        guard case .started = try await store.acquireSession(record, event: event, now: at(time), takeOver: false, rule: CrossNodeDecision.rule) else {
            return XCTFail("\(session) starts")
        }
    }

    private func end(_ session: String, channel: String, at time: String, bytes: Int64, degraded: Double = 0, starting: String) async throws {
        var connection = SessionConnection(remoteAddr: "10.0.0.1:1", encoder: "ffmpeg", startedAt: at(starting), endedAt: at(time), endReason: "unpublished",
                                           bytesIn: bytes)
        connection.health = HealthSeconds(healthy: 0, degraded: degraded, starving: 0)
        try await store.addSessionConnection(id: p + session, connection, videoFrames: 0, audioFrames: 0, videoCodec: "h264", audioCodec: nil)
        _ = try await store.endSession(id: p + session, reason: "unpublished", endedAt: at(time), now: at(time),
                                       event: .make(type: "channel.offline", channelId: p + channel, userId: p + "u", at: at(time), data: .object([:])),
                                       byNode: nil)
    }

    func testInsightsSumSessionsByHourAndDayAcrossEdges() async throws {
        let day = "2026-03-10", next = "2026-03-11"
        _ = try await store.createChannel(id: p + "c1", streamKey: p + "k1", fields: fields("one", user: "u"), now: at("\(day)T00:00:00Z"))
        _ = try await store.createChannel(id: p + "c2", streamKey: p + "k2", fields: fields("two", user: "u"), now: at("\(day)T00:00:00Z"))
        // s1 10:30–12:15 (105 min, two hour edges), s2 11:00–11:45 inside one hour while s1 is live.
        try await start("s1", channel: "c1", at: "\(day)T10:30:00Z")
        try await start("s2", channel: "c2", at: "\(day)T11:00:00Z")
        _ = try await store.appendEvent(.make(type: "channel.publish_rejected", channelId: p + "c1", userId: p + "u", at: at("\(day)T11:05:00Z"),
                                              data: .object(["reason": .string("duplicate")])), now: at("\(day)T11:05:00Z"))
        _ = try await store.appendEvent(.make(type: "channel.limit_exceeded", channelId: p + "c2", userId: p + "u", at: at("\(day)T11:10:00Z"),
                                              data: .object(["limit": .string("maxBitrateKbps")])), now: at("\(day)T11:10:00Z"))
        try await end("s2", channel: "c2", at: "\(day)T11:45:00Z", bytes: 450_000, starting: "\(day)T11:00:00Z")
        try await end("s1", channel: "c1", at: "\(day)T12:15:00Z", bytes: 1_050_000, degraded: 630, starting: "\(day)T10:30:00Z")
        // s3 23:30–00:30 across midnight; s4 from 00:10, still open at 00:40.
        try await start("s3", channel: "c1", at: "\(day)T23:30:00Z")
        try await start("s4", channel: "c2", at: "\(next)T00:10:00Z")
        try await end("s3", channel: "c1", at: "\(next)T00:30:00Z", bytes: 600_000, starting: "\(day)T23:30:00Z")
        let now = at("\(next)T00:40:00Z")

        let hours = try await store.usage(UsageQuery(userId: p + "u", channelId: nil, from: at("\(day)T10:00:00Z"), to: at("\(day)T13:00:00Z"),
                                                     bucket: .hour, now: now))
        XCTAssertEqual(hours.map { $0.streamedMs / 60_000 }, [30, 105, 15], "s1 is counted in each hour for its time there")
        XCTAssertEqual(hours.map(\.sessions), [1, 1, 0], "sessions by the hour they started")
        XCTAssertEqual(hours[0].bytesIn, 300_000, accuracy: 1, "s1's bytes shared by time: 30 of 105 min")
        XCTAssertEqual(hours[1].bytesIn, 600_000 + 450_000, accuracy: 1)
        XCTAssertEqual(hours[0].degradedSec, 180, accuracy: 0.01)
        XCTAssertEqual(hours.map(\.peakLive), [1, 2, 1], "two live at once in the 11:00 hour; s1 still live when 12:00 began")
        XCTAssertEqual(hours[1].rejections, ["duplicate": 1])
        XCTAssertEqual(hours[1].limitEvents, ["maxBitrateKbps": 1])
        XCTAssertEqual(hours[0].rejections, [:])

        let days = try await store.usage(UsageQuery(userId: p + "u", channelId: nil, from: at("\(day)T00:00:00Z"), to: at("2026-03-12T00:00:00Z"),
                                                    bucket: .day, now: now))
        XCTAssertEqual(days.map { $0.streamedMs / 60_000 }, [180, 60], "s3 across midnight in both days; s4 open: counted until now")
        XCTAssertEqual(days.map(\.sessions), [3, 1])
        XCTAssertEqual(days.map(\.peakLive), [2, 2])
        XCTAssertEqual(days[0].bytesIn + days[1].bytesIn, 1_050_000 + 450_000 + 600_000, accuracy: 1, "s4 has no bytes recorded yet")
        XCTAssertEqual(days[0].start, at("\(day)T00:00:00Z"))
        XCTAssertEqual(days[1].end, at("2026-03-12T00:00:00Z"))

        // One channel; a range that does not start or end on an hour.
        let two = try await store.usage(UsageQuery(userId: nil, channelId: p + "c2", from: at("\(day)T10:00:00Z"), to: at("\(day)T13:00:00Z"),
                                                   bucket: .hour, now: now))
        XCTAssertEqual(two.map { $0.streamedMs / 60_000 }, [0, 45, 0])
        XCTAssertEqual(two.map(\.peakLive), [0, 1, 0])
        XCTAssertEqual(two[1].limitEvents, ["maxBitrateKbps": 1])
        XCTAssertEqual(two[1].rejections, [:], "the refusal was c1's")
        let cut = try await store.usage(UsageQuery(userId: p + "u", channelId: nil, from: at("\(day)T10:45:00Z"), to: at("\(day)T11:15:00Z"),
                                                   bucket: .hour, now: now))
        XCTAssertEqual(cut.map { $0.streamedMs / 60_000 }, [15, 30], "clipped to the range: s1 10:45–11:15, s2 11:00–11:15")
        XCTAssertEqual(cut.map(\.start), [at("\(day)T10:45:00Z"), at("\(day)T11:00:00Z")])
        XCTAssertEqual(cut.map(\.sessions), [0, 1], "s1 started before the range")
        // Another user sees none of it.
        let other = try await store.usage(UsageQuery(userId: p + "someone", channelId: nil, from: at("\(day)T00:00:00Z"), to: at("2026-03-12T00:00:00Z"),
                                                     bucket: .day, now: now))
        XCTAssertEqual(other.map(\.streamedMs), [0, 0])
    }
}
