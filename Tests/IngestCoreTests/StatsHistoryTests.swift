import Foundation
import LiveGateModel
import XCTest
@testable import IngestCore

/// `stats/history` in memory (docs/contract.md §4, "Stats history"): every point comes back as
/// it went in, a channel keeps an hour, and the table keeps the channels updated last.
final class StatsHistoryTests: XCTestCase {
    let t0 = Date(timeIntervalSince1970: 1_796_000_000) // a multiple of 10 s

    /// A point as `StreamHealthMonitor` makes them: tenths, counts, a 10 s slot.
    func point(_ i: Int, at: Date? = nil) -> StatsPoint {
        StatsPoint(at: at ?? t0.addingTimeInterval(Double(i) * 10), bitrateKbps: StreamHealthMonitor.round1(612.345 + Double(i) / 3),
                   videoKbps: StreamHealthMonitor.round1(483.06 + Double(i) / 7), audioKbps: 128.3, fps: StreamHealthMonitor.round1(29.97),
                   keyframeIntervalSec: i % 3 == 0 ? nil : StreamHealthMonitor.round1(2.002 * Double(i % 5 + 1)),
                   health: i % 4 == 0 ? .degraded : (i % 7 == 0 ? .starving : .healthy), droppedPackets: i * 13)
    }

    func testEveryPointComesBackExactlyAsItWentIn() throws {
        var history = StatsHistory(maxChannels: 10)
        let points = (0..<40).map { point($0) }
        for p in points { history.append(p, channelId: "ch_a", sessionId: "s1", now: p.at) }
        let series = try XCTUnwrap(history.points(channelId: "ch_a", window: 3600, now: points.last!.at))
        XCTAssertEqual(series.sessionId, "s1")
        XCTAssertEqual(series.updatedAt, points.last!.at)
        XCTAssertEqual(series.points, points, "figures, missing keyframe intervals, health and drops unchanged")
        // Bit for bit: what the API prints is the same number.
        for (a, b) in zip(series.points, points) {
            XCTAssertEqual(a.bitrateKbps.bitPattern, b.bitrateKbps.bitPattern)
            XCTAssertEqual(a.keyframeIntervalSec?.bitPattern, b.keyframeIntervalSec?.bitPattern)
        }
    }

    func testAChannelKeepsAnHourAndItsStorageStaysThatSize() throws {
        var history = StatsHistory(maxChannels: 10)
        var now = t0
        for i in 0..<600 {
            now = t0.addingTimeInterval(Double(i) * 10)
            history.append(point(i), channelId: "ch_a", sessionId: "s1", now: now)
        }
        let series = try XCTUnwrap(history.points(channelId: "ch_a", window: 7200, now: now))
        XCTAssertEqual(series.points.count, 361, "an hour of 10 s points and the one at its start")
        XCTAssertEqual(series.points.first?.at, now.addingTimeInterval(-3600))
        XCTAssertEqual(series.points.last, point(599))
        let capacity = try XCTUnwrap(history.storedCapacity(channelId: "ch_a"))
        XCTAssertLessThan(capacity, 400, "grown to an hour's points, not doubled to 512")
        XCTAssertEqual(MemoryLayout<StoredPoint>.stride, 32, "a point is kept in 32 bytes")
        XCTAssertEqual(history.points(channelId: "ch_a", window: 60, now: now)?.points.count, 7, "a window filters")
    }

    func testANewSessionStartsANewSeriesAndTheStalestChannelGoesFirst() throws {
        var history = StatsHistory(maxChannels: 2)
        history.append(point(0), channelId: "ch_a", sessionId: "s1", now: t0)
        history.append(point(1), channelId: "ch_a", sessionId: "s2", now: t0.addingTimeInterval(10))
        XCTAssertEqual(history.points(channelId: "ch_a", window: 3600, now: t0.addingTimeInterval(10))?.points, [point(1)])
        XCTAssertEqual(history.points(channelId: "ch_a", window: 3600, now: t0.addingTimeInterval(10))?.sessionId, "s2")
        history.append(point(2), channelId: "ch_b", sessionId: "s3", now: t0.addingTimeInterval(20))
        history.append(point(3), channelId: "ch_a", sessionId: "s2", now: t0.addingTimeInterval(30))
        // ch_b has missed its next point (offline): it makes room.
        history.append(point(4), channelId: "ch_c", sessionId: "s4", now: t0.addingTimeInterval(50))
        XCTAssertEqual(history.count, 2)
        XCTAssertNil(history.points(channelId: "ch_b", window: 3600, now: t0.addingTimeInterval(50)), "updated longest ago: dropped")
        XCTAssertEqual(history.points(channelId: "ch_a", window: 3600, now: t0.addingTimeInterval(50))?.points, [point(1), point(3)])
        history.expire(now: t0.addingTimeInterval(50 + 3600))
        XCTAssertEqual(history.count, 1, "nothing in the last hour: expired")
    }

    /// More live channels than room: the channels kept keep their whole history, the others
    /// have none — not every channel's series taken out before its next point.
    func testWithMoreLiveChannelsThanRoomTheKeptOnesKeepTheirHistory() throws {
        var history = StatsHistory(maxChannels: 3)
        var now = t0
        for tick in 0..<30 {
            now = t0.addingTimeInterval(Double(tick) * 10)
            for c in 0..<5 { history.append(point(tick, at: now), channelId: "ch_\(c)", sessionId: "s\(c)", now: now) }
        }
        XCTAssertEqual(history.count, 3)
        for c in 0..<3 { XCTAssertEqual(history.points(channelId: "ch_\(c)", window: 3600, now: now)?.points.count, 30, "ch_\(c)") }
        for c in 3..<5 { XCTAssertNil(history.points(channelId: "ch_\(c)", window: 3600, now: now), "ch_\(c)") }
        // One of the kept goes offline: the next live channel takes its place once it has missed a point.
        for tick in 30..<33 {
            now = t0.addingTimeInterval(Double(tick) * 10)
            for c in [0, 2, 3, 4] { history.append(point(tick, at: now), channelId: "ch_\(c)", sessionId: "s\(c)", now: now) }
        }
        XCTAssertNil(history.points(channelId: "ch_1", window: 3600, now: now), "offline for 30 s: made room")
        XCTAssertEqual(history.points(channelId: "ch_0", window: 3600, now: now)?.points.count, 33)
        XCTAssertNotNil(history.points(channelId: "ch_3", window: 3600, now: now), "the next live channel got the room")
    }
}
