import Foundation
import TestSupport
import XCTest

/// The performance guard (docs/architecture.md, "Performance guard"): heap allocations per
/// received media message on the real listener, counted by a preloaded malloc interposer — a
/// count, not a time, so it fails on a change, not on a busy machine.
final class AllocationGuardTests: XCTestCase {
    /// mallocs per received media message, this suite's (debug) build, 8 publishers of a 640×360
    /// 30 fps H.264 + AAC clip. Flat out, reads are large and the figure is the per-message
    /// path alone (measured 3.16–3.17 on 2026-12-05, steady to ±0.01: +1 allocation per message
    /// fails it); real time, each read brings about one message and its own allocations count
    /// too (6.5–6.9). BENCHMARKS.md ("Allocation guard") has the release build's figures. Lower a
    /// budget when a change lowers the count; never raise one to make a change pass.
    static let budgetFlatOut = 3.5
    static let budgetRealTime = 8.0
    /// Real time with every channel writing HLS (`--hls`): the output path's allocations too —
    /// the copy to the output's queue, the lane, libavformat. 20.7 when each packet went through
    /// a fresh libav buffer, the interleaver, `h264_mp4toannexb` and the nested ADTS muxer;
    /// 12.0 with `MPEGTSFraming` and the reused scratch buffer (2026-12-06, sixth session).
    static let budgetRealTimeHLS = 14.5

    func testAllocationsPerReceivedMediaMessageStayWithinTheBudget() async throws {
        let dir = try MediaTools.temporaryDirectory("alloc-guard")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 4, size: "640x360", fps: 30, in: dir)
        for (flatOut, hls, budget) in [(true, false, Self.budgetFlatOut), (false, false, Self.budgetRealTime), (false, true, Self.budgetRealTimeHLS)] {
            let report = try await guardRun(clip: clip, flatOut: flatOut, hls: hls)
            XCTAssertEqual(report["hls"] as? Bool, hls)
            // Real time: 8 publishers × ~4 s × ~77 messages/s; flat out, far more.
            let messages = try XCTUnwrap(report["messages"] as? Int)
            XCTAssertGreaterThan(messages, 1500, "\(report)")
            let perMessage = try XCTUnwrap(report["mallocsPerMessage"] as? Double)
            XCTAssertLessThanOrEqual(perMessage, budget,
                                     "allocations per received media message went up (\(flatOut ? "flat out" : "real time")\(hls ? ", HLS" : "")): \(perMessage) > \(budget) — \(report)")
        }
    }

    func guardRun(clip: URL, flatOut: Bool, hls: Bool) async throws -> [String: Any] {
        let bin = (gatewayBinary as NSString).deletingLastPathComponent
        let interposer = bin + "/libMallocInterposerSwift.so"
        XCTAssertTrue(FileManager.default.fileExists(atPath: interposer), "the build makes \(interposer)")
        var environment = ProcessInfo.processInfo.environment
        environment["LD_PRELOAD"] = interposer
        let run = try await ProcessRunner.run(bin + "/alloc-guard", ["--bench", bin + "/rtmp-bench", "--clip", clip.path,
                                                                      "--publishers", "8", "--seconds", "8"] + (flatOut ? ["--flat-out"] : []) + (hls ? ["--hls"] : []),
                                              timeout: 120, environment: environment)
        XCTAssertEqual(run.exitCode, 0, "alloc-guard: \(run.stderr) \(run.stdout)")
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], run.stdout + run.stderr)
        XCTAssertEqual(report["interposed"] as? Bool, true, "the interposer counted nothing: not preloaded? \(report)")
        print("alloc-guard: \(run.stdout)")
        return report
    }
}
