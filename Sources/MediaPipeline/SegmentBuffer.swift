import Foundation

/// The bytes of one segment (or of one pending audio PES) as they are made: a growing buffer
/// that keeps its capacity when emptied, so an output that writes a segment every two seconds
/// allocates it once, not once per segment (libavformat's per-segment dynamic buffer was grown
/// by `realloc` and freed for every segment: its page faults were 9 % of HLS's time,
/// BENCHMARKS.md "HLS taken apart").
final class SegmentBuffer {
    private var storage: UnsafeMutableRawPointer
    private(set) var capacity: Int
    private(set) var count = 0

    init(capacity: Int = 64 * 1024) {
        self.capacity = max(capacity, 188)
        storage = .allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit { storage.deallocate() }

    /// Room for `size` more bytes at the end, counted as written: the caller fills all of them
    /// before anything else is appended.
    func append(_ size: Int) -> UnsafeMutableRawPointer {
        if count + size > capacity { grow(to: count + size) }
        let start = storage + count
        count += size
        return start
    }

    func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        append(bytes.count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
    }

    func removeAll() { count = 0 }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: storage, count: count) }

    private func grow(to needed: Int) {
        var next = capacity
        while next < needed { next *= 2 }
        let bigger = UnsafeMutableRawPointer.allocate(byteCount: next, alignment: 16)
        if count > 0 { bigger.copyMemory(from: storage, byteCount: count) }
        storage.deallocate()
        storage = bigger
        capacity = next
    }
}
