import Foundation
import NIOCore
import RTMPCore
import TestSupport
import XCTest
@testable import RTMPServer

/// Read sizes (docs/contract.md §2): the ceiling of one read follows the connection's rate — a
/// tenth of a second of its stream, 8 KiB to 1 MiB — raised after two windows that ask for it
/// (one, for eight times as much), lowered only at a quarter.
final class ReadSizePolicyTests: XCTestCase {
    let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func testTheCeilingIsATenthOfASecondOfTheStreamRoundedUpWithinItsBounds() {
        XCTAssertEqual(ReadSizePolicy.ceiling(for: 0), 8 * 1024)
        XCTAssertEqual(ReadSizePolicy.ceiling(for: 7_500), 8 * 1024, "600 kbit/s: the floor")
        XCTAssertEqual(ReadSizePolicy.ceiling(for: 8_192), 8 * 1024)
        XCTAssertEqual(ReadSizePolicy.ceiling(for: 8_193), 16 * 1024)
        XCTAssertEqual(ReadSizePolicy.ceiling(for: 16_385), 32 * 1024)
        XCTAssertEqual(ReadSizePolicy.ceiling(for: 62_500), 64 * 1024, "5 Mbit/s")
        XCTAssertEqual(ReadSizePolicy.ceiling(for: 65_536), 64 * 1024)
        XCTAssertEqual(ReadSizePolicy.ceiling(for: 65_537), 128 * 1024)
        XCTAssertEqual(ReadSizePolicy.ceiling(for: 250_000), 256 * 1024, "20 Mbit/s")
        XCTAssertEqual(ReadSizePolicy.ceiling(for: 600_000), 1024 * 1024)
        XCTAssertEqual(ReadSizePolicy.ceiling(for: 10_000_000), 1024 * 1024, "100 MB/s: the cap")
    }

    func testNothingIsDecidedBeforeAWholeWindow() {
        var policy = ReadSizePolicy()
        XCTAssertNil(policy.record(bytes: 50_000_000, at: t0))
        XCTAssertNil(policy.record(bytes: 2_000_000, at: t0 + .milliseconds(199)), "the first window is a fifth of a second")
        XCTAssertEqual(policy.record(bytes: 0, at: t0 + .milliseconds(200)), 1024 * 1024, "flat out within it: raised at once")
        policy = ReadSizePolicy()
        XCTAssertNil(policy.record(bytes: 0, at: t0))
        XCTAssertNil(policy.record(bytes: 15_000, at: t0 + .milliseconds(200)), "600 kbit/s: the floor")
        XCTAssertNil(policy.record(bytes: 50_000_000, at: t0 + .milliseconds(1199)), "later windows last a second: no rate yet")
        XCTAssertEqual(policy.ceiling, 8 * 1024)
        XCTAssertEqual(policy.record(bytes: 0, at: t0 + .milliseconds(1200)), 1024 * 1024, "100 MB in a second: no real-time stream, raised at once")
        XCTAssertEqual(policy.ceiling, 1024 * 1024)
    }

    func testAModestRaiseWaitsForASecondWindow() {
        var policy = ReadSizePolicy()
        _ = policy.record(bytes: 0, at: t0)
        // 200 KB/s (1.6 Mbit/s): 20 KB a tenth → 32 KiB, four times the floor: asked twice first.
        XCTAssertNil(policy.record(bytes: 200_000, at: t0 + .seconds(1)), "once: not yet")
        XCTAssertEqual(policy.ceiling, 8 * 1024)
        XCTAssertEqual(policy.record(bytes: 150_000, at: t0 + .seconds(2)), 16 * 1024, "twice: the smaller of the two")
        XCTAssertEqual(policy.ceiling, 16 * 1024)
    }

    func testRaisedAtOnceLoweredOnlyWhenAQuarterWouldDo() {
        var policy = ReadSizePolicy()
        var now = t0
        _ = policy.record(bytes: 0, at: now)
        // 2 MB/s: 200 KB a tenth of a second → 256 KiB, 32 times the floor: at once.
        now = now + .seconds(1)
        XCTAssertEqual(policy.record(bytes: 2_000_000, at: now), 256 * 1024)
        // 1.2 MB/s would be 128 KiB, but that is more than a quarter of 256 KiB: kept.
        now = now + .seconds(1)
        XCTAssertNil(policy.record(bytes: 1_200_000, at: now))
        XCTAssertEqual(policy.ceiling, 256 * 1024)
        // 600 kbit/s (75 KB/s): 7.5 KB a tenth → back to the floor.
        now = now + .seconds(1)
        XCTAssertEqual(policy.record(bytes: 75_000, at: now), 8 * 1024)
        // At the floor nothing lower is returned, however slow.
        now = now + .seconds(1)
        XCTAssertNil(policy.record(bytes: 0, at: now))
        // The rate is bytes over the window's real length: 1.5 MB over 3 s is 500 KB/s → 64 KiB
        // (over one second it would have been 256 KiB), eight times the floor: at once.
        now = now + .seconds(3)
        XCTAssertEqual(policy.record(bytes: 1_500_000, at: now), 64 * 1024)
        XCTAssertEqual(policy.ceiling, 64 * 1024)
    }

    func testACatchUpAfterAStallDoesNotRaiseTheCeiling() {
        // A 600 kbit/s stream stalls for a second, then brings two seconds' worth in one: one
        // window asks for 16 KiB, the next is back to its rate — the floor stays.
        var policy = ReadSizePolicy()
        var now = t0
        _ = policy.record(bytes: 0, at: now)
        for bytes in [75_000, 0, 150_000, 75_000, 75_000, 0, 150_000, 75_000] {
            now = now + .seconds(1)
            XCTAssertNil(policy.record(bytes: bytes, at: now))
        }
        XCTAssertEqual(policy.ceiling, 8 * 1024)
    }
}

/// The same end to end: two real ffmpeg publishers on one server, one paced (`-re`), one
/// sending as fast as it can; only the fast one's connection reads in larger pieces.
final class ReadSizeTests: XCTestCase {
    final class NullSink: IngestEventSink {}

    func testAFastPublishersReadsGrowAndAPacedOnesDoNot() async throws {
        let dir = try MediaTools.temporaryDirectory("readsize")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 4, in: dir)
        let server = RTMPServer(configuration: RTMPServerConfiguration(host: "127.0.0.1", port: 0),
                                authorizer: StaticKeyAuthorizer(keys: ["PACED", "FAST"]), sink: NullSink())
        let task = Task { try await server.run() }
        defer { task.cancel() }
        let port = try await server.waitUntilListening()
        func ffmpeg(_ input: [String], key: String) throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: try ProcessRunner.which("ffmpeg"))
            p.arguments = ["-hide_banner", "-loglevel", "error"] + input + ["-i", clip.path, "-c", "copy", "-f", "flv",
                                                                             "rtmp://127.0.0.1:\(port)/live/\(key)"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.runWithSignalsUnblocked() // so that `terminate()` ends it (TestSupport/Process+Signals.swift)
            return p
        }
        let paced = try ffmpeg(["-re", "-stream_loop", "-1"], key: "PACED")
        let fast = try ffmpeg(["-stream_loop", "-1"], key: "FAST")
        defer { paced.terminate(); fast.terminate(); paced.waitUntilExit(); fast.waitUntilExit() }
        // The fast one needs a whole second of measurement; both run until it shows (bounded).
        var ceilings: [Int] = []
        for _ in 0..<150 {
            try await Task.sleep(for: .milliseconds(100))
            ceilings = await server.readCeilings()
            if ceilings.count == 2, ceilings.max()! > ReadSizePolicy.floor, ceilings.min()! == ReadSizePolicy.floor,
               paced.isRunning, fast.isRunning { break }
        }
        XCTAssertTrue(paced.isRunning && fast.isRunning, "both publishers still streaming")
        XCTAssertEqual(ceilings.count, 2, "two connections")
        XCTAssertEqual(ceilings.min(), ReadSizePolicy.floor, "the paced stream (~60 KB/s) keeps the 8 KiB floor: \(ceilings)")
        XCTAssertGreaterThan(ceilings.max() ?? 0, ReadSizePolicy.floor, "the fast stream reads more at once: \(ceilings)")
    }
}
