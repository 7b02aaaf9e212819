import Foundation
import NIOConcurrencyHelpers

/// The time `IngestCoordinator` decides by (docs/architecture.md, "Habits": time is an input).
/// Everything it records or hands its machines — session starts and ends, reconnect windows,
/// cooldowns, lease times — reads `now`; with `runsTimers` off, `run()` starts no timer of its
/// own and a test drives `tick()` itself, so a 300 s reconnect window passes in one call.
/// (The shutdown's own deadlines and the lease loop's cadence stay on real time: they bound
/// how long the process waits, not what it records.)
public struct IngestClock: Sendable {
    public var now: @Sendable () -> Date
    /// Whether `run()` ticks the machines and keeps the leases by itself.
    public var runsTimers: Bool

    public init(now: @escaping @Sendable () -> Date, runsTimers: Bool) {
        self.now = now
        self.runsTimers = runsTimers
    }

    /// The system's wall clock, timers on: what `serve` runs.
    public static let system = IngestClock(now: { Date() }, runsTimers: true)

    /// A clock that moves only when told, with no timers: for tests.
    public static func manual(_ clock: ManualWallClock) -> IngestClock {
        IngestClock(now: { clock.now }, runsTimers: false)
    }
}

/// A wall clock that stands still until `advance(by:)`.
public final class ManualWallClock: Sendable {
    private let current: NIOLockedValueBox<Date>

    /// Starts at `start`, by default the last whole second: what it records then lands in the
    /// store's millisecond timestamps exactly, and is not in the future for the parts that still
    /// run on real time (the webhook dispatcher delivers what is due by its own clock).
    public init(_ start: Date = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down) - 1)) {
        current = NIOLockedValueBox(start)
    }

    public var now: Date { current.withLockedValue { $0 } }

    public func advance(by seconds: TimeInterval) {
        current.withLockedValue { $0 = $0.addingTimeInterval(seconds) }
    }
}
