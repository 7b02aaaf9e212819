import LiveGateModel
import Foundation

/// docs/contract.md §5: ≈ 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then every 2 h, for 24 h; each delay
/// jittered by ±10 % so a receiver that comes back is not hit by every gateway at once.
public struct RetrySchedule: Sendable {
    public static let delays: [TimeInterval] = [5, 30, 120, 600, 1800, 3600]
    public static let steadyDelay: TimeInterval = 7200
    /// A delivery still failing when its next attempt would fall past this (counted from when
    /// it was queued) is given up (`failed`).
    public var giveUpAfter: TimeInterval
    /// The jitter of each delay, a fraction in −0.1…0.1 (tests pass `{ 0 }` for exact times).
    public var jitter: @Sendable () -> Double

    public init(giveUpAfter: TimeInterval = 24 * 3600, jitter: @escaping @Sendable () -> Double = { Double.random(in: -0.1...0.1) }) {
        self.giveUpAfter = giveUpAfter
        self.jitter = jitter
    }

    /// Delay before attempt `failedAttempts + 1`, after `failedAttempts` failures (≥ 1).
    public func delay(afterFailedAttempts failedAttempts: Int) -> TimeInterval {
        delay(afterFailedAttempts: failedAttempts, jitter: jitter())
    }

    public func delay(afterFailedAttempts failedAttempts: Int, jitter: Double) -> TimeInterval {
        let base = failedAttempts - 1 < Self.delays.count ? Self.delays[max(0, failedAttempts - 1)] : Self.steadyDelay
        return base * (1 + max(-0.1, min(0.1, jitter)))
    }
}
