import Foundation
import TestSupport
import XCTest

/// The performance guard (docs/architecture.md, "Performance guard"): heap allocations per
/// received media message on the real listener, counted by a preloaded malloc interposer — a
/// count, not a time, so it fails on a change, not on a busy machine.
final class AllocationGuardTests: XCTestCase {
    /// mallocs per received media message, this suite's (debug) build, 8 real-time publishers of a
    /// 640×360 30 fps H.264 + AAC clip. Measured 2026-12-05: see BENCHMARKS.md ("Allocation
    /// guard") for the figure behind it and the release build's. Lower it when a change lowers
    /// the count; never raise it to make a change pass.
    static let budget = 99.0

    func testAllocationsPerReceivedMediaMessageStayWithinTheBudget() async throws {
        let dir = try MediaTools.temporaryDirectory("alloc-guard")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 4, size: "640x360", fps: 30, in: dir)
        let bin = (gatewayBinary as NSString).deletingLastPathComponent
        let interposer = bin + "/libMallocInterposerSwift.so"
        XCTAssertTrue(FileManager.default.fileExists(atPath: interposer), "the build makes \(interposer)")
        var environment = ProcessInfo.processInfo.environment
        environment["LD_PRELOAD"] = interposer
        let run = try await ProcessRunner.run(bin + "/alloc-guard", ["--bench", bin + "/rtmp-bench", "--clip", clip.path,
                                                                      "--publishers", "8", "--seconds", "6"],
                                              timeout: 90, environment: environment)
        XCTAssertEqual(run.exitCode, 0, "alloc-guard: \(run.stderr) \(run.stdout)")
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], run.stdout + run.stderr)
        XCTAssertEqual(report["interposed"] as? Bool, true, "the interposer counted nothing: not preloaded? \(report)")
        // 8 publishers × ~4 s × ~77 messages/s: a window that really saw the stream.
        let messages = try XCTUnwrap(report["messages"] as? Int)
        XCTAssertGreaterThan(messages, 1500, "\(report)")
        let perMessage = try XCTUnwrap(report["mallocsPerMessage"] as? Double)
        XCTAssertLessThanOrEqual(perMessage, Self.budget,
                                 "allocations per received media message went up: \(perMessage) > \(Self.budget) — \(report)")
        print("alloc-guard: \(run.stdout)")
    }
}
