import NIOCore

/// How large one read from a publisher's socket may grow (docs/contract.md §2 "Read sizes"),
/// from the rate the connection brings bytes: about a tenth of a second of its stream per read,
/// between 8 KiB (a real-time stream of up to ~650 kbit/s) and 1 MiB.
///
/// Why: per byte, flat-out ingest is dominated by the kernel, not by us — each read's copy and
/// the window update (an ACK through the loopback or the NIC) it triggers. A 64 KiB ceiling
/// makes a 100 MB/s stream 1,600 reads and as many ACKs a second; at 1 MiB ingest took 0.29–0.34
/// CPU s per GiB instead of 0.54–0.57 (BENCHMARKS.md "Read sizes"). One ceiling for all would
/// cost memory instead: NIO's receive pool keeps a connection's buffers at the largest size
/// they grew to, so a slow stream that fell behind once would hold 1 MiB buffers for good. The
/// ceiling therefore follows each connection's measured rate. The floor is below NIO's default
/// 64 KiB for the same reason: a 600 kbit/s publisher brings 7.5 KB per merged read (100 ms),
/// but one that fell behind during a ramp filled 64 KiB reads and kept them — in a heaptrack of
/// 1,000 such publishers, receive buffers were 30 of the 70 MB in use (BENCHMARKS.md "Memory
/// per publisher"). And since lowering the ceiling cannot shrink a buffer the pool already has,
/// a raise needs two windows in a row that ask for it: a real-time stream catching up after a
/// stall brings twice its rate for a second, and would otherwise keep the larger buffers for
/// the rest of its session. A window that asks for eight times the ceiling or more is no
/// catch-up of a real-time stream (at the floor: 5 Mbit/s and up) and is followed at once — a
/// flat-out publisher that read at the floor for two seconds cost 1.07–1.19 CPU s per GiB in
/// the 20-ffmpeg benchmark instead of 0.58–0.70 (BENCHMARKS.md "Memory per publisher").
///
/// A pure machine: the handler feeds it the bytes of each read batch and the event loop's
/// time, and applies the ceiling it returns.
public struct ReadSizePolicy: Sendable {
    /// The smallest and largest ceilings; powers of two.
    public static let floor = 8 * 1024
    public static let cap = 1024 * 1024
    /// How much of the stream one read may take.
    public static let span: TimeAmount = .milliseconds(100)
    /// How long the rate is measured before a decision.
    public static let window: TimeAmount = .seconds(1)
    /// The connection's first window is shorter: a flat-out publisher is recognised (eight
    /// times the floor) after a fifth of a second of reading at the floor, not a whole second.
    public static let firstWindow: TimeAmount = .milliseconds(200)

    /// The ceiling in force.
    public private(set) var ceiling = Self.floor
    private var windowStart: NIODeadline?
    private var windowBytes = 0
    private var firstWindowDone = false
    /// What the last window asked for, when it was more than the ceiling.
    private var askedBefore: Int?

    public init() {}

    /// Records `bytes` read at `now`; returns the new ceiling when it should change. Raised when
    /// two windows in a row need more (to the smaller of the two), or one needs eight times as
    /// much; lowered only when the rate needs a quarter of it or less, so a rate near a boundary
    /// does not flip it every second.
    public mutating func record(bytes: Int, at now: NIODeadline) -> Int? {
        guard let start = windowStart else {
            windowStart = now
            windowBytes = bytes
            return nil
        }
        windowBytes &+= bytes
        let elapsed = now - start
        guard elapsed >= (firstWindowDone ? Self.window : Self.firstWindow) else { return nil }
        firstWindowDone = true
        let perSpan = Double(windowBytes) * Double(Self.span.nanoseconds) / Double(elapsed.nanoseconds)
        windowStart = now
        windowBytes = 0
        let wanted = Self.ceiling(for: perSpan)
        if wanted >= 8 * ceiling {
            askedBefore = nil
            ceiling = wanted
            return wanted
        }
        if wanted > ceiling {
            guard let before = askedBefore else {
                askedBefore = wanted
                return nil
            }
            askedBefore = nil
            ceiling = min(before, wanted)
            return ceiling
        }
        askedBefore = nil
        if Double(ceiling) >= 4 * max(perSpan, 1) && wanted < ceiling {
            ceiling = wanted
            return wanted
        }
        return nil
    }

    /// The power of two at or above `bytesPerSpan`, within `floor`…`cap`.
    public static func ceiling(for bytesPerSpan: Double) -> Int {
        guard bytesPerSpan > Double(floor) else { return floor }
        guard bytesPerSpan < Double(cap) else { return cap }
        var size = floor
        while Double(size) < bytesPerSpan { size *= 2 }
        return size
    }
}
