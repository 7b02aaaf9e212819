import Foundation
import IngestCore
import LiveGateModel
import XCTest

/// Stream health on an injected clock (docs/contract.md §4, "Stream health"): a simulated
/// encoder makes one sample a second, as the coordinator takes them, and minutes pass in a loop.
final class StreamHealthMonitorTests: XCTestCase {
    /// A publisher as the ingest side counts it: `sentFps` frames a second arrive while the
    /// timestamps say `ownFps`; a keyframe every `gopSec` of stream time.
    struct Encoder {
        var connection: UInt64 = 1
        var ownFps = 30.0
        var sentFps = 30.0
        var videoKbps = 3000.0
        var audioKbps = 128.0
        var gopSec = 2.0
        var stalled = false
        var avDriftMs: Int64 = 0
        var hasVideo = true
        private(set) var frames = 0
        private(set) var streamTime = 0.0
        private(set) var videoBytes: UInt64 = 0
        private(set) var audioBytes: UInt64 = 0
        private(set) var keyframes = 0
        private var lastKeyframeAt = 0.0
        private var lastInterval: Double?
        private var idle = 0.0

        /// One second of arrivals.
        mutating func second() -> HealthSample {
            audioBytes += UInt64(audioKbps * 1000 / 8)
            if stalled || !hasVideo {
                idle += 1
            } else {
                idle = 0
                for _ in 0..<Int(sentFps.rounded()) {
                    if frames == 0 || streamTime - lastKeyframeAt >= gopSec - 1e-9 {
                        if frames > 0 { lastInterval = streamTime - lastKeyframeAt }
                        lastKeyframeAt = streamTime
                        keyframes += 1
                    }
                    frames += 1
                    streamTime += 1 / ownFps
                }
                videoBytes += UInt64(videoKbps * 1000 / 8)
            }
            return HealthSample(connection: connection, videoFrames: frames, videoBytes: videoBytes, audioBytes: audioBytes,
                                videoIdleSec: frames > 0 ? idle : nil, streamFps: hasVideo ? ownFps : nil, keyframes: keyframes,
                                lastKeyframeIntervalSec: lastInterval, sinceKeyframeSec: frames > 0 ? streamTime - 1 / ownFps - lastKeyframeAt : nil,
                                avDriftMs: avDriftMs)
        }
    }

    /// The clock, the monitor and what it said.
    struct Sim {
        var now = Date(timeIntervalSince1970: 1_800_000_000)
        var changes: [StreamHealthMonitor.Change] = []
        var points: [StatsPoint] = []

        mutating func run(_ monitor: inout StreamHealthMonitor, _ encoder: inout Encoder, seconds: Int) {
            for _ in 0..<seconds {
                now = now.addingTimeInterval(1)
                let out = monitor.observe(encoder.second(), now: now)
                if let c = out.change { changes.append(c) }
                if let p = out.point { points.append(p) }
            }
        }
    }

    func testASteadyStreamStaysHealthyWithPointsEveryTenSeconds() {
        var t = Sim()
        var monitor = StreamHealthMonitor(now: t.now)
        var encoder = Encoder()
        t.run(&monitor, &encoder, seconds: 120)
        XCTAssertEqual(monitor.state, .healthy, "\(monitor.reasons)")
        XCTAssertEqual(t.changes, [], "no event for a stream that never changed")
        XCTAssertEqual(monitor.seconds.healthy, 119, accuracy: 0.01, "every second between the samples counted as healthy")
        XCTAssertEqual(monitor.seconds.degraded + monitor.seconds.starving, 0)
        XCTAssertGreaterThanOrEqual(t.points.count, 11)
        for p in t.points.dropFirst() {
            XCTAssertEqual(p.fps, 30, accuracy: 0.5)
            XCTAssertEqual(p.videoKbps, 3000, accuracy: 1)
            XCTAssertEqual(p.audioKbps, 128, accuracy: 1)
            XCTAssertEqual(p.bitrateKbps, 3128, accuracy: 1)
            XCTAssertEqual(p.keyframeIntervalSec ?? 0, 2, accuracy: 0.05)
            XCTAssertEqual(p.health, .healthy)
            XCTAssertEqual(p.at.timeIntervalSince1970.truncatingRemainder(dividingBy: 10), 0, "points on 10 s boundaries")
        }
        let figures = monitor.current(droppedPackets: 0)
        XCTAssertEqual(figures.receivedFps ?? 0, 30, accuracy: 0.5)
        XCTAssertEqual(figures.medianKeyframeIntervalSec ?? 0, 2, accuracy: 0.05)
    }

    func testAFrameRateUnderHalfTheStreamsOwnIsStarvingAndUnderNinetyPercentDegraded() {
        var t = Sim()
        var monitor = StreamHealthMonitor(now: t.now)
        var encoder = Encoder()
        t.run(&monitor, &encoder, seconds: 20)
        encoder.sentFps = 12 // the encoder cannot keep up: its timestamps still say 30
        t.run(&monitor, &encoder, seconds: 5)
        XCTAssertEqual(monitor.state, .degraded, "over the 10 s window: 5 s of 30 and 5 of 12 make 21 (70 %)")
        XCTAssertEqual(monitor.reasons, ["fps 21 of 30"])
        t.run(&monitor, &encoder, seconds: 10)
        XCTAssertEqual(monitor.state, .starving)
        XCTAssertEqual(monitor.reasons, ["fps 12 of 30"])
        XCTAssertEqual(t.changes.map(\.state), [.degraded], "starving within 30 s of the last event: held back")
        t.run(&monitor, &encoder, seconds: 20)
        XCTAssertEqual(t.changes.map(\.state), [.degraded, .starving])
        XCTAssertEqual(t.changes.map(\.previous), [.healthy, .degraded])
        XCTAssertEqual(t.changes.last?.reasons, ["fps 12 of 30"])

        var t2 = Sim()
        var m2 = StreamHealthMonitor(now: t2.now)
        var e2 = Encoder()
        e2.sentFps = 25
        t2.run(&m2, &e2, seconds: 15)
        XCTAssertEqual(m2.state, .degraded)
        XCTAssertEqual(m2.reasons, ["fps 25 of 30"])
        e2.sentFps = 28 // 93 %: healthy
        t2.run(&m2, &e2, seconds: 12)
        XCTAssertEqual(m2.state, .healthy, "\(m2.reasons)")
    }

    func testAStalledEncoderStarvesAfterTwoSecondsAndTheBurstEndsWithItsFinalState() {
        var t = Sim()
        var monitor = StreamHealthMonitor(now: t.now)
        var encoder = Encoder()
        t.run(&monitor, &encoder, seconds: 15)
        encoder.stalled = true
        t.run(&monitor, &encoder, seconds: 1)
        XCTAssertEqual(monitor.state, .healthy, "1 s without video is not yet starving")
        t.run(&monitor, &encoder, seconds: 1)
        XCTAssertEqual(monitor.state, .starving)
        XCTAssertEqual(monitor.reasons.first, "no video for 2.0 s")
        XCTAssertEqual(t.changes.map(\.state), [.starving], "sent at once: nothing was sent before")
        let starvedAt = t.now
        encoder.stalled = false
        t.run(&monitor, &encoder, seconds: 12)
        XCTAssertEqual(monitor.state, .healthy, "\(monitor.reasons)")
        XCTAssertEqual(t.changes.count, 1, "recovered within 30 s of the last event: held back")
        t.run(&monitor, &encoder, seconds: 20)
        XCTAssertEqual(t.changes.map(\.state), [.starving, .healthy], "the state at the end of the burst is sent")
        XCTAssertGreaterThanOrEqual(t.changes[1].at.timeIntervalSince(starvedAt), 30)
        XCTAssertEqual(t.changes[1].previous, .starving)
        // Starving while no video came; then degraded until the 10 s window no longer holds the gap.
        XCTAssertGreaterThanOrEqual(monitor.seconds.starving, 1)
        XCTAssertEqual(monitor.seconds.starving + monitor.seconds.degraded, 11, accuracy: 2.01, "the seconds not healthy were counted")
    }

    func testFlappingSendsAtMostOneEventPerIntervalAndNothingWhenItEndsWhereItBegan() {
        var t = Sim()
        var monitor = StreamHealthMonitor(now: t.now)
        var encoder = Encoder()
        t.run(&monitor, &encoder, seconds: 12)
        // 90 s of on/off stalls: starving, healthy, starving …
        for i in 0..<30 {
            encoder.stalled = i % 2 == 0
            t.run(&monitor, &encoder, seconds: 3)
        }
        for (a, b) in zip(t.changes, t.changes.dropFirst()) {
            XCTAssertGreaterThanOrEqual(b.at.timeIntervalSince(a.at), 30, "at most one event per 30 s")
        }
        XCTAssertLessThanOrEqual(t.changes.count, 4)
        encoder.stalled = false
        t.run(&monitor, &encoder, seconds: 45)
        XCTAssertEqual(monitor.state, .healthy)
        XCTAssertEqual(t.changes.last?.state ?? .healthy, .healthy, "the burst ends with what the stream is now")
        let count = t.changes.count
        t.run(&monitor, &encoder, seconds: 60)
        XCTAssertEqual(t.changes.count, count, "steady again: no further event")
    }

    func testALongGOPIsDegradedAgainstTheMedianAndAboveTenSeconds() {
        var t = Sim()
        var monitor = StreamHealthMonitor(now: t.now)
        var encoder = Encoder()
        t.run(&monitor, &encoder, seconds: 20)
        encoder.gopSec = 5 // more than twice the median of 2
        t.run(&monitor, &encoder, seconds: 8)
        XCTAssertEqual(monitor.state, .degraded)
        XCTAssertTrue(monitor.reasons.contains { $0.hasPrefix("keyframe interval ") }, "\(monitor.reasons)")

        // A stream whose GOP has always been 12 s: its median is 12, but it is above 10 s.
        var t2 = Sim()
        var m2 = StreamHealthMonitor(now: t2.now)
        var e2 = Encoder()
        e2.gopSec = 12
        t2.run(&m2, &e2, seconds: 60)
        XCTAssertEqual(m2.state, .degraded)
        XCTAssertTrue(m2.reasons.contains("keyframe interval 12.0 s") || m2.reasons.contains { $0.hasPrefix("keyframe interval 1") }, "\(m2.reasons)")
        // A GOP still open past 10 s counts before its keyframe comes.
        var t3 = Sim()
        var m3 = StreamHealthMonitor(now: t3.now)
        var e3 = Encoder()
        e3.gopSec = 1000
        t3.run(&m3, &e3, seconds: 9)
        XCTAssertEqual(m3.state, .healthy, "\(m3.reasons)")
        t3.run(&m3, &e3, seconds: 3)
        XCTAssertEqual(m3.state, .degraded, "an open GOP of 11 s: \(m3.reasons)")
    }

    func testAVideoBitRateUnderHalfItsMinuteAverageAndAVDriftAreDegraded() {
        var t = Sim()
        var monitor = StreamHealthMonitor(now: t.now)
        var encoder = Encoder()
        t.run(&monitor, &encoder, seconds: 60)
        encoder.videoKbps = 900
        t.run(&monitor, &encoder, seconds: 11)
        XCTAssertEqual(monitor.state, .degraded)
        XCTAssertTrue(monitor.reasons.contains { $0.hasPrefix("video bit rate 900 kbit/s") }, "\(monitor.reasons)")

        var t2 = Sim()
        var m2 = StreamHealthMonitor(now: t2.now)
        var e2 = Encoder()
        e2.avDriftMs = 1500
        t2.run(&m2, &e2, seconds: 3)
        XCTAssertEqual(m2.state, .degraded)
        XCTAssertEqual(m2.reasons, ["audio/video drift 1.5 s"])
        e2.avDriftMs = -900
        t2.run(&m2, &e2, seconds: 1)
        XCTAssertEqual(m2.state, .healthy)
    }

    func testAnAudioOnlyStreamIsNeverStarvingForVideoAndRulesCanBeTurnedOff() {
        var t = Sim()
        var monitor = StreamHealthMonitor(now: t.now)
        var encoder = Encoder()
        encoder.hasVideo = false
        t.run(&monitor, &encoder, seconds: 30)
        XCTAssertEqual(monitor.state, .healthy, "\(monitor.reasons)")

        var rules = HealthRules()
        rules.starvingFpsRatio = 0
        rules.degradedFpsRatio = 0
        var t2 = Sim()
        var m2 = StreamHealthMonitor(rules: rules, now: t2.now)
        var e2 = Encoder()
        e2.sentFps = 5
        t2.run(&m2, &e2, seconds: 20)
        XCTAssertEqual(m2.state, .healthy, "the fps rules are off: \(m2.reasons)")
        XCTAssertNil(HealthRules().problem)
        rules.degradedFpsRatio = 1.5
        XCTAssertNotNil(rules.problem)
    }

    func testANewConnectionStartsItsWindowsAgainAndAPauseCountsNoTime() {
        var t = Sim()
        var monitor = StreamHealthMonitor(now: t.now)
        var encoder = Encoder()
        t.run(&monitor, &encoder, seconds: 30)
        let healthy = monitor.seconds.healthy
        monitor.pause()
        t.now = t.now.addingTimeInterval(20) // the reconnect window: no publisher
        var second = Encoder()
        second.connection = 2
        t.run(&monitor, &second, seconds: 5)
        XCTAssertEqual(monitor.connection, 2)
        XCTAssertEqual(monitor.connectionSeconds.healthy, 4, accuracy: 0.01, "the new connection's own seconds")
        XCTAssertEqual(monitor.seconds.healthy, healthy + 4, accuracy: 0.01, "the 20 s without a publisher count in no state")
        XCTAssertEqual(monitor.state, .healthy, "a fresh connection is not judged on the old one's counters: \(monitor.reasons)")
        XCTAssertNil(monitor.current(droppedPackets: 0).receivedFps, "no full window yet on the new connection")
    }
}
