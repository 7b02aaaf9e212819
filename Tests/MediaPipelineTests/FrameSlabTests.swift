import CMalloc
import Foundation
@testable import MediaPipeline
import NIOConcurrencyHelpers
import NIOCore
import RTMPCore
import XCTest

/// `FrameSlab` (docs/architecture.md "One copy into a slab"): each frame comes out as its own
/// bytes, joined from its chunks; frames handed out keep their bytes while later ones are
/// written into the same block — also while another thread reads them, as an output lane does.
final class FrameSlabTests: XCTestCase {
    private func frame(_ size: Int, seed: Int) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &* 7 &+ 1) } }

    func testFramesComeOutWholeAndKeepTheirBytesAcrossBlocks() {
        var slab = FrameSlab()
        var handedOut: [(ByteBuffer, [UInt8])] = []
        // 1,000-byte frames: 32 fit a block; the 33rd starts the next one.
        for i in 0..<100 {
            let bytes = frame(1000, seed: i)
            handedOut.append((slab.copy(ChunkedPayload(ByteBuffer(bytes: bytes))), bytes))
            if i == 31 { XCTAssertEqual(slab.blocksAllocated, 1) }
            if i == 32 { XCTAssertEqual(slab.blocksAllocated, 2, "a frame that does not fit starts a block") }
        }
        XCTAssertEqual(slab.blocksAllocated, 4)
        for (i, (buffer, bytes)) in handedOut.enumerated() {
            XCTAssertEqual(Array(buffer.readableBytesView), bytes, "frame \(i)")
        }
        // A frame in several chunks is joined; the largest copied size fills what it needs.
        let pieces = [frame(100, seed: 1), frame(4000, seed: 2), frame(3000, seed: 3)]
        let joined = slab.copy(ChunkedPayload(pieces: pieces.map { ByteBuffer(bytes: $0) }))
        XCTAssertEqual(Array(joined.readableBytesView), pieces.flatMap { $0 })
        let largest = frame(FrameSlab.maxFrame, seed: 9)
        XCTAssertEqual(Array(slab.copy(ChunkedPayload(ByteBuffer(bytes: largest))).readableBytesView), largest)
        XCTAssertEqual(slab.copy(ChunkedPayload(ByteBuffer())).readableBytes, 0)
        // Earlier frames untouched by everything written since.
        for (i, (buffer, bytes)) in handedOut.enumerated() { XCTAssertEqual(Array(buffer.readableBytesView), bytes, "frame \(i) after") }
    }

    /// A block is freed with its last frame: after 2,000 blocks' worth of frames, each dropped
    /// once used (as an output lane drops a frame it wrote), the heap holds about the one block
    /// the slab is filling — not 62 MiB. (A slab that kept its blocks, or a slice that kept a
    /// block alive after its frame was dropped, shows here; glibc's own count of bytes in use.)
    func testABlockIsFreedWithItsLastFrame() {
        var slab = FrameSlab()
        let payload = ChunkedPayload(ByteBuffer(bytes: frame(4000, seed: 1)))
        let before = livegate_heap_in_use()
        var last = ByteBuffer()
        for _ in 0..<16_000 { last = slab.copy(payload) } // eight a block
        let after = livegate_heap_in_use()
        XCTAssertEqual(slab.blocksAllocated, 2_000)
        XCTAssertEqual(last.readableBytes, 4000)
        let grown = Int(after) - Int(before)
        XCTAssertLessThan(grown, 1 << 20, "heap grown by \(grown) bytes for 2,000 blocks of 32 KiB written and dropped")
    }

    /// Whether `buffer` holds exactly `bytes` (memcmp: quick in a debug build).
    private static func holds(_ buffer: ByteBuffer, _ bytes: [UInt8]) -> Bool {
        buffer.readableBytes == bytes.count && buffer.withUnsafeReadableBytes { b in bytes.withUnsafeBytes { memcmp(b.baseAddress!, $0.baseAddress!, bytes.count) == 0 } }
    }

    /// A slice handed to a consumer is not changed by what is written after it — the way the
    /// slab is used: written under the session's lock on an event loop, read on an output lane.
    /// Each frame one byte value, its neighbours others: a write over it shows.
    func testAConsumerThreadReadsEveryFrameAsWritten() {
        let count = 20_000
        let queue = NIOLockedValueBox<[(ByteBuffer, [UInt8])]>([])
        let done = NIOLockedValueBox(false)
        let bad = NIOLockedValueBox(0), seen = NIOLockedValueBox(0)
        let consumer = Thread {
            while true {
                let batch = queue.withLockedValue { q -> [(ByteBuffer, [UInt8])] in defer { q.removeAll() }; return q }
                for (buffer, bytes) in batch {
                    usleep(1) // the producer runs ahead of the reader, writing the next frames meanwhile
                    if !Self.holds(buffer, bytes) { bad.withLockedValue { $0 += 1 } }
                }
                seen.withLockedValue { $0 += batch.count }
                if batch.isEmpty {
                    if done.withLockedValue({ $0 }) && queue.withLockedValue({ $0.isEmpty }) { return }
                    usleep(100)
                }
            }
        }
        consumer.start()
        var slab = FrameSlab()
        var generator = SystemRandomNumberGenerator()
        var total = 0
        for i in 0..<count {
            let bytes = [UInt8](repeating: UInt8(i % 251), count: Int.random(in: 1...FrameSlab.maxFrame, using: &generator))
            total += bytes.count
            let slice = slab.copy(ChunkedPayload(ByteBuffer(bytes: bytes)))
            // At most a few hundred frames ahead of the reader (a bounded queue, as an output's):
            // this test's memory stays a few MiB, not the whole run's.
            while queue.withLockedValue({ $0.count }) > 256 { usleep(50) }
            queue.withLockedValue { $0.append((slice, bytes)) }
        }
        done.withLockedValue { $0 = true }
        while seen.withLockedValue({ $0 }) < count { usleep(1000) }
        XCTAssertEqual(bad.withLockedValue { $0 }, 0)
        // Each block filled up to a frame's size from its end before the next: not a block per frame.
        XCTAssertGreaterThanOrEqual(slab.blocksAllocated, total / FrameSlab.blockSize)
        XCTAssertLessThanOrEqual(slab.blocksAllocated, total / (FrameSlab.blockSize - FrameSlab.maxFrame) + 1)
    }
}
