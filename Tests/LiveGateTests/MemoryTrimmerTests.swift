import Foundation
import Logging
import NIOConcurrencyHelpers
import XCTest
@testable import LiveGate

/// Memory after a burst (docs/architecture.md): freed memory glibc kept is returned once it has
/// piled up, and not over and over while it has not.
final class MemoryTrimmerTests: XCTestCase {
    let mib = 1024 * 1024

    func testTrimsOnlyWhatPiledUpBeyondTheSmallestGapSeen() {
        var policy = MemoryTrimPolicy()
        // The program's own pages: 40 MiB resident beyond a 20 MiB heap.
        XCTAssertFalse(policy.shouldTrim(MemorySample(resident: 60 * mib, heapInUse: 20 * mib)))
        XCTAssertEqual(policy.floor, 40 * mib)
        // The heap grows and is in use: nothing kept, nothing to trim.
        XCTAssertFalse(policy.shouldTrim(MemorySample(resident: 340 * mib, heapInUse: 300 * mib)))
        // A burst's memory freed but kept: 270 MiB resident beyond 30 MiB in use, 230 beyond the floor.
        XCTAssertTrue(policy.shouldTrim(MemorySample(resident: 300 * mib, heapInUse: 30 * mib)))
        // After the trim 10 MiB stayed out of reach: the new reference.
        policy.trimmed(MemorySample(resident: 80 * mib, heapInUse: 30 * mib))
        XCTAssertEqual(policy.floor, 50 * mib)
        XCTAssertFalse(policy.shouldTrim(MemorySample(resident: 80 * mib, heapInUse: 30 * mib)), "no trim again for what a trim cannot reach")
        XCTAssertFalse(policy.shouldTrim(MemorySample(resident: 95 * mib, heapInUse: 30 * mib)), "15 MiB more: under 16 MiB")
        XCTAssertTrue(policy.shouldTrim(MemorySample(resident: 100 * mib, heapInUse: 30 * mib)), "20 MiB piled up anew")
    }

    func testABigHeapThatBreathesIsLeftAlone() {
        var policy = MemoryTrimPolicy()
        _ = policy.shouldTrim(MemorySample(resident: 1040 * mib, heapInUse: 1000 * mib))
        // 100 MiB freed and kept, but against 900 MiB in use that is under a quarter.
        XCTAssertFalse(policy.shouldTrim(MemorySample(resident: 1040 * mib, heapInUse: 900 * mib)))
        XCTAssertTrue(policy.shouldTrim(MemorySample(resident: 1040 * mib, heapInUse: 600 * mib)))
    }

    func testTheTrimmerCallsTheTrimWhenThePolicySaysAndReadsAgainAfter() {
        let samples = NIOLockedValueBox([MemorySample(resident: 60 * mib, heapInUse: 20 * mib),
                                         MemorySample(resident: 300 * mib, heapInUse: 30 * mib),
                                         MemorySample(resident: 75 * mib, heapInUse: 30 * mib),
                                         MemorySample(resident: 80 * mib, heapInUse: 30 * mib)])
        let trims = NIOLockedValueBox(0)
        let trimmer = MemoryTrimmer(sample: { samples.withLockedValue { $0.isEmpty ? nil : $0.removeFirst() } },
                                    trim: { trims.withLockedValue { $0 += 1 } }, logger: Logger(label: "test"))
        XCTAssertFalse(trimmer.tick())
        XCTAssertTrue(trimmer.tick(), "250 MiB kept")
        XCTAssertEqual(trims.withLockedValue { $0 }, 1)
        XCTAssertFalse(trimmer.tick(), "the sample after the trim is the reference")
        XCTAssertEqual(trims.withLockedValue { $0 }, 1)
    }

    /// The real thing: glibc keeps 4 KiB blocks freed in the middle of its heap (one in 32 stays
    /// allocated, so the top cannot shrink), and the trimmer's `malloc_trim` gives them back.
    /// The heap is trimmed first: the tests before this one in the same process may have left
    /// more than 128 MiB freed and kept, which the blocks below would reuse without growing the
    /// resident size (seen in a clean-clone run after `FrameSlabTests`).
    func testFreedMemoryGlibcKeptIsReturnedToTheSystem() throws {
        let trimmer = MemoryTrimmer(logger: Logger(label: "test"))
        guard MemoryTrimmer.processSample() != nil else { throw XCTSkip("not Linux with glibc") }
        MemoryTrimmer.glibcTrim()
        XCTAssertFalse(trimmer.tick(), "the reference first")
        let count = 32 * 1024 // 128 MiB of 4 KiB blocks
        var blocks: [UnsafeMutableRawPointer] = []
        blocks.reserveCapacity(count)
        for _ in 0..<count {
            let p = malloc(4096)!
            memset(p, 1, 4096)
            blocks.append(p)
        }
        var kept: [UnsafeMutableRawPointer] = []
        for (i, p) in blocks.enumerated() { if i % 32 == 0 { kept.append(p) } else { free(p) } }
        defer { kept.forEach { free($0) } }
        let before = try XCTUnwrap(MemoryTrimmer.processSample())
        XCTAssertTrue(trimmer.tick(), "about 124 MiB freed and kept")
        let after = try XCTUnwrap(MemoryTrimmer.processSample())
        XCTAssertGreaterThan(before.resident - after.resident, 64 * mib,
                             "resident \(before.resident / mib) → \(after.resident / mib) MiB")
    }
}
