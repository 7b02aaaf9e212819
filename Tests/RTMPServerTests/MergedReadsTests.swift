import Dispatch
import Foundation
import NIOConcurrencyHelpers
import RTMPCore
import RTMPServer
import TestSupport
import XCTest

/// Merged reads (docs/contract.md §2): once publishing, a small read waits before the next, so
/// frames arrive in batches — and none is lost, delayed past the interval, or stuck at the end.
final class MergedReadsTests: XCTestCase {
    /// When each coded frame reached the sink, and how the publish ended.
    final class ArrivalSink: IngestEventSink {
        struct State {
            var arrivals: [UInt64] = []
            var ended: IngestEndReason?
        }
        let state = NIOLockedValueBox(State())

        func media(_ frame: MediaFrame, session: IngestSession) {
            guard frame.packetType == .codedFrames else { return }
            let now = DispatchTime.now().uptimeNanoseconds
            state.withLockedValue { $0.arrivals.append(now) }
        }

        func publishEnded(_ session: IngestSession, reason: IngestEndReason, stats: IngestSessionStats) {
            state.withLockedValue { $0.ended = reason }
        }
    }

    /// Frames arriving less than 2 ms apart came from one read (a group).
    static func groups(_ arrivals: [UInt64]) -> (count: Int, longestGapMs: Double) {
        var count = arrivals.isEmpty ? 0 : 1
        var longest: UInt64 = 0
        for (a, b) in zip(arrivals, arrivals.dropFirst()) {
            if b - a > 2_000_000 { count += 1 }
            longest = max(longest, b - a)
        }
        return (count, Double(longest) / 1e6)
    }

    func publish(mergeMs: Int, dir: URL) async throws -> (frames: Int, groups: Int, longestGapMs: Double, ended: IngestEndReason?) {
        let clip = try await MediaTools.makeClip(seconds: 4, in: dir)
        let sink = ArrivalSink()
        var config = RTMPServerConfiguration(host: "127.0.0.1", port: 0)
        config.mergeReadsMilliseconds = mergeMs
        let server = RTMPServer(configuration: config, authorizer: StaticKeyAuthorizer(keys: ["KEY"]), sink: sink)
        let task = Task { try await server.run() }
        defer { task.cancel() }
        let port = try await server.waitUntilListening()
        let result = try await ProcessRunner.run("ffmpeg", ["-re", "-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                            "rtmp://127.0.0.1:\(port)/live/KEY"], timeout: 30)
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        for _ in 0..<200 where sink.state.withLockedValue({ $0.ended }) == nil { try await Task.sleep(for: .milliseconds(20)) }
        let s = sink.state.withLockedValue { $0 }
        let g = Self.groups(s.arrivals)
        return (s.arrivals.count, g.count, g.longestGapMs, s.ended)
    }

    func testFramesArriveInBatchesAndAllOfThemArrive() async throws {
        let dir = try MediaTools.temporaryDirectory("merged")
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try await MediaTools.probe(try await MediaTools.makeClip(seconds: 4, in: dir))
        let expected = source.reduce(0) { $0 + $1.packets }

        let merged = try await publish(mergeMs: 100, dir: dir)
        XCTAssertEqual(merged.frames, expected, "every frame arrives")
        XCTAssertEqual(merged.ended, .unpublished, "the unpublish is read, not stuck behind a pause")
        // 4 s at 25 fps + ~47 audio frames/s ≈ 290 frames, paced: read one by one they make
        // about as many groups; merged, about one group per 100 ms (~40), a few more for
        // reads that came close together.
        XCTAssertLessThan(merged.groups, expected / 3, "reads are merged: \(merged.groups) groups for \(merged.frames) frames")
        XCTAssertGreaterThan(merged.groups, 15, "but the stream still flows: \(merged.groups) groups")

        let direct = try await publish(mergeMs: 0, dir: dir)
        XCTAssertEqual(direct.frames, expected)
        XCTAssertGreaterThan(direct.groups, merged.groups * 2, "off, each read takes what has arrived: \(direct.groups) vs \(merged.groups)")
    }
}
