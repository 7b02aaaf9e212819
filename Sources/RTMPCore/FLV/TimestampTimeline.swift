/// Maps one track's 32-bit RTMP timestamps onto a 64-bit monotonic millisecond timeline.
///
/// Wrap: each timestamp is read relative to the previous one as a signed 32-bit difference,
/// so 0xFFFF_FFF0 → 0x0000_0010 is +32 ms, not −4 billion. Repair: a decode time that does
/// not increase (encoder jitter, a reset) becomes the previous time + 1 ms and is counted;
/// the raw timeline is kept separately so one repair does not shift every later frame.
/// A large backwards jump (an encoder that restarted its clock) rebases the timeline instead,
/// otherwise every later frame would crawl forward 1 ms at a time until the clock caught up.
public struct TimestampTimeline: Sendable, Equatable {
    private var lastRaw: UInt32 = 0
    private var unwrapped: Int64 = 0
    private var lastOutput: Int64 = 0
    private var started = false
    public private(set) var repairs = 0

    /// Backward jumps larger than this (ms) are clock restarts, not jitter.
    public static let rebaseThreshold: Int64 = 1000

    public init() {}

    /// Unwraps `raw` without repairing (for sequence headers, which may share a timestamp).
    public func peek(_ raw: UInt32) -> Int64 {
        guard started else { return Int64(raw) }
        return max(lastOutput, unwrapped + Int64(Int32(bitPattern: raw &- lastRaw)))
    }

    /// The decode time for a coded frame at `raw`; strictly increasing across calls.
    public mutating func next(_ raw: UInt32) -> Int64 {
        guard started else {
            started = true
            lastRaw = raw
            unwrapped = Int64(raw)
            lastOutput = unwrapped
            return lastOutput
        }
        let delta = Int64(Int32(bitPattern: raw &- lastRaw))
        lastRaw = raw
        if delta < -Self.rebaseThreshold {
            repairs += 1
            lastOutput += 1
            unwrapped = lastOutput
            return lastOutput
        }
        unwrapped += delta
        if unwrapped > lastOutput {
            lastOutput = unwrapped
        } else {
            repairs += 1
            lastOutput += 1
        }
        return lastOutput
    }
}
