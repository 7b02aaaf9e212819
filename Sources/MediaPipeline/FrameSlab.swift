import Foundation
import NIOCore
import RTMPCore

/// Where a publisher's small frames are copied on their way to the outputs: one block of
/// memory at a time, each frame a slice of it, the block freed when its last frame has been
/// written (docs/architecture.md "Output threads", "One copy into a slab").
///
/// Why not a buffer of its own per frame (`ByteBuffer(bytes:)`, as before): a frame of a
/// 600 kbit/s stream is 0.2–8 KiB — above glibc's per-thread caches — and it is allocated on
/// an event loop and freed on an output lane. Every such pair went through the arena's bins
/// under its lock (`_int_malloc`, `unlink_chunk`, `malloc_consolidate`): 13 % of what HLS costs
/// a channel (BENCHMARKS.md, "frames into a slab, segment files reused"). Here a 32 KiB block is allocated
/// every ~0.4 s of such a stream, and a frame costs a `memcpy` and a reference.
///
/// How: NIO's `ByteBuffer` copies its storage on write while any slice of it is alive, so the
/// block is not written through `ByteBuffer` once sliced. It is made with its writer index at
/// its end (every byte "readable", none read before it is written), its address taken once
/// while it is still unique, and each frame is copied to the next free bytes through that
/// address before its slice is taken: bytes under a slice already handed out are never
/// written again, so no reader (an output's thread, after the queue's lock) can see a change.
/// The block stays alive while the slab or any slice holds it.
///
/// Memory: a session with outputs keeps its current block (32 KiB) and, until the outputs have
/// written their last frames (a lane runs every 0.1 s), the one before — beside the 150 KiB and
/// more each HLS rendition keeps for its segment. A session with no outputs copies nothing.
///
/// `@unchecked Sendable`: the block's address is written through only by the slab's owner, one
/// `MediaSession`'s state, under that session's lock; readers get `ByteBuffer` slices.
struct FrameSlab: @unchecked Sendable {
    /// The size of a block. A frame larger than what is left starts the next block (the rest
    /// of this one is lost until its frames are written: at most `maxFrame` of every block).
    static let blockSize = 32 * 1024
    /// Frames up to this size are copied here; larger ones are kept as received (a slice of
    /// the socket's read buffer, or joined into a buffer of their own when in several chunks).
    static let maxFrame = 8 * 1024

    private var block: ByteBuffer?
    private var base: UnsafeMutableRawPointer?
    private var used = 0

    /// Blocks allocated so far (tests).
    private(set) var blocksAllocated = 0

    init() {}

    /// The payload, joined, as a slice of the current block. `payload.readableBytes` must be at
    /// most `maxFrame`.
    mutating func copy(_ payload: ChunkedPayload) -> ByteBuffer {
        let size = payload.readableBytes
        precondition(size <= Self.maxFrame, "a frame of \(size) bytes is not copied into a slab")
        guard size > 0 else { return ByteBuffer() }
        if block == nil || used + size > Self.blockSize { startBlock() }
        guard let base, let block else { preconditionFailure("a slab without a block") }
        var at = used
        func append(_ piece: ByteBuffer) {
            piece.withUnsafeReadableBytes { bytes in
                guard let from = bytes.baseAddress, bytes.count > 0 else { return }
                (base + at).copyMemory(from: from, byteCount: bytes.count)
                at += bytes.count
            }
        }
        append(payload.head)
        for piece in payload.rest { append(piece) }
        guard let slice = block.getSlice(at: used, length: size) else { preconditionFailure("a slice inside the block") }
        used += size
        return slice
    }

    private mutating func startBlock() {
        var fresh = ByteBufferAllocator().buffer(capacity: Self.blockSize)
        fresh.moveWriterIndex(to: Self.blockSize)
        // Unique here (nothing sliced it yet): no copy is made, and the address stays the
        // block's for its life.
        base = fresh.withUnsafeMutableReadableBytes { $0.baseAddress }
        block = fresh
        used = 0
        blocksAllocated += 1
    }
}
