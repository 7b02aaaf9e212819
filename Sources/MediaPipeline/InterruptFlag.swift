internal import CFFmpeg

/// The deadlines libavformat's interrupt callback checks (see `lg_interrupt` in the shim).
/// One per output, shared by each muxer it opens, so another thread can stop a blocked write.
final class InterruptFlag: @unchecked Sendable {
    // Owned C memory, read and written only through the shim's atomic accessors.
    let pointer: UnsafeMutablePointer<lg_interrupt>

    init() {
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: lg_interrupt(operation_deadline_us: 0, abort_deadline_us: 0))
    }

    deinit { pointer.deallocate() }

    /// Bounds the next blocking operation; `nil` lifts the bound.
    func operationTimeout(microseconds: Int64?) { lg_interrupt_set_operation(pointer, microseconds ?? 0) }

    /// Every blocking call from `microseconds` on fails with AVERROR_EXIT.
    func abort(afterMicroseconds microseconds: Int64) { lg_interrupt_set_abort(pointer, microseconds) }

    var callback: AVIOInterruptCB { lg_interrupt_callback(pointer) }
}
