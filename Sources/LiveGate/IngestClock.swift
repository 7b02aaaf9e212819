import Foundation
import LiveGateModel

/// The time `IngestCoordinator` decides by (docs/architecture.md, "Habits": time is an input).
/// Everything it records or hands its machines — session starts and ends, reconnect windows,
/// cooldowns, lease times — reads `now()`, from the same `WallClock` design as the webhook
/// dispatcher's; with `runsTimers` off, `run()` starts no timer of its own and a test drives
/// `tick()` itself, so a 300 s reconnect window passes in one call. (The shutdown's own
/// deadlines and the lease loop's cadence stay on real time: they bound how long the process
/// waits, not what it records.)
public struct IngestClock: Sendable {
    public var wall: any WallClock
    /// Whether `run()` ticks the machines and keeps the leases by itself.
    public var runsTimers: Bool

    public init(wall: any WallClock, runsTimers: Bool) {
        self.wall = wall
        self.runsTimers = runsTimers
    }

    public func now() -> Date { wall.now() }

    /// The system's wall clock, timers on: what `serve` runs.
    public static let system = IngestClock(wall: SystemWallClock(), runsTimers: true)

    /// A clock that moves only when told, with no timers: for tests.
    public static func manual(_ clock: ManualWallClock) -> IngestClock {
        IngestClock(wall: clock, runsTimers: false)
    }
}
