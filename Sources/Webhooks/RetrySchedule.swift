import Foundation

/// SPEC §5: ≈ 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then every 2 h, for 24 h; each delay
/// jittered by ±10 % so a receiver that comes back is not hit by every gateway at once.
public struct RetrySchedule: Sendable {
    public static let delays: [TimeInterval] = [5, 30, 120, 600, 1800, 3600]
    public static let steadyDelay: TimeInterval = 7200
    public var giveUpAfter: TimeInterval = 24 * 3600
    /// Scales every delay (tests use a small factor to run the schedule in seconds).
    public var scale: Double = 1

    public init(scale: Double = 1, giveUpAfter: TimeInterval = 24 * 3600) {
        self.scale = scale
        self.giveUpAfter = giveUpAfter
    }

    /// Delay before attempt `failedAttempts + 1`, after `failedAttempts` failures (≥ 1).
    public func delay(afterFailedAttempts failedAttempts: Int, jitter: Double = Double.random(in: -0.1...0.1)) -> TimeInterval {
        let base = failedAttempts - 1 < Self.delays.count ? Self.delays[max(0, failedAttempts - 1)] : Self.steadyDelay
        return base * scale * (1 + jitter)
    }
}
