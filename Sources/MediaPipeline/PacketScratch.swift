internal import CFFmpeg

/// A growing buffer with zeroed padding after whatever it holds (libavformat's readers may look
/// up to `AV_INPUT_BUFFER_PADDING_SIZE` bytes past a packet's end). It grows to the largest
/// packet of its output (a keyframe) and stays there: one per MPEG-TS output, about the size of
/// the segment file's own I/O buffer.
final class PacketScratch {
    private var storage: UnsafeMutableRawPointer
    private var capacity: Int
    private let padding = Int(lg_input_padding())

    init(capacity: Int = 16 * 1024) {
        self.capacity = capacity
        storage = .allocate(byteCount: capacity + padding, alignment: 64)
    }

    deinit { storage.deallocate() }

    /// Room for `size` bytes followed by zeroed padding; valid until the next call.
    func reserve(_ size: Int) -> UnsafeMutableRawPointer {
        if size > capacity {
            storage.deallocate()
            capacity = max(size, capacity * 2)
            storage = .allocate(byteCount: capacity + padding, alignment: 64)
        }
        (storage + size).initializeMemory(as: UInt8.self, repeating: 0, count: padding)
        return storage
    }
}
