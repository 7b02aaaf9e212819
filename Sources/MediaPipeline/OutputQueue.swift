import Foundation
import NIOCore

/// What an output's thread is asked to do, in order.
enum OutputItem: Sendable {
    /// Start (or restart, on a layout change) with these tracks.
    case begin(StreamLayout)
    /// The session's next connection (a reconnect or a replace) goes on with the same tracks:
    /// a file or a push continues in place; HLS starts a new segment series after a
    /// discontinuity (`MediaWriter.resumesInPlace`).
    case resume(StreamLayout)
    case packet(MediaPacket)
    /// The session ended: finish cleanly and exit.
    case end
}

/// The bounded hand-off between ingest (event loops) and one output's thread. `push` never
/// blocks and never grows past its bounds: when an output falls behind, new packets are
/// dropped — and counted — until the next video keyframe finds room again, so the output
/// resumes with a decodable picture. Control items (`begin`, `resume`, `end`) are never dropped.
final class OutputQueue: @unchecked Sendable {
    // All state below is guarded by `condition`.
    private let condition = NSCondition()
    private var items = CircularBuffer<OutputItem>(initialCapacity: 64)
    private var queuedPackets = 0
    private var queuedBytes = 0
    private var dropping = false
    private var hasVideo = false
    private var droppedCount = 0
    let maxPackets: Int
    let maxBytes: Int

    init(maxPackets: Int, maxBytes: Int) {
        self.maxPackets = maxPackets
        self.maxBytes = maxBytes
    }

    var dropped: Int {
        condition.lock()
        defer { condition.unlock() }
        return droppedCount
    }

    /// Event-loop side: O(1), never waits for the output.
    func push(_ item: OutputItem) {
        condition.lock()
        defer { condition.unlock() }
        switch item {
        case .begin(let layout), .resume(let layout):
            hasVideo = layout.hasVideo
        case .end:
            break
        case .packet(let packet):
            let size = packet.data.readableBytes
            if dropping {
                let resumes = (!hasVideo || (packet.kind == .video && packet.track == 0 && packet.isKeyframe)) // the default video track's keyframe
                    && queuedPackets < maxPackets / 2 && queuedBytes + size < maxBytes / 2
                guard resumes else {
                    droppedCount += 1
                    return
                }
                dropping = false
            }
            if queuedPackets >= maxPackets || queuedBytes + size > maxBytes {
                dropping = true
                droppedCount += 1
                return
            }
            queuedPackets += 1
            queuedBytes += size
        }
        items.append(item)
        condition.signal()
    }

    /// Output side: waits for work, then takes everything queued (one wake-up per batch) by
    /// swapping buffers with `batch`, which must come back empty: the two buffers take turns, so
    /// a batch costs no allocation once they have grown to the queue's working size.
    func takeAll(into batch: inout CircularBuffer<OutputItem>) {
        precondition(batch.isEmpty, "the previous batch was not drained")
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty { condition.wait() }
        handOver(into: &batch)
    }

    /// Pool side: takes everything queued, as `takeAll` does, without waiting; false if nothing was.
    func takeAvailable(into batch: inout CircularBuffer<OutputItem>) -> Bool {
        precondition(batch.isEmpty, "the previous batch was not drained")
        condition.lock()
        defer { condition.unlock() }
        guard !items.isEmpty else { return false }
        handOver(into: &batch)
        return true
    }

    /// Swaps the queued items into `batch` (under the lock): the queue is empty again.
    private func handOver(into batch: inout CircularBuffer<OutputItem>) {
        swap(&items, &batch)
        queuedPackets = 0
        queuedBytes = 0
    }

    /// Counts packets the output itself had to skip (failed or reconnecting).
    func countDropped(_ n: Int) {
        condition.lock()
        droppedCount += n
        condition.unlock()
    }
}
