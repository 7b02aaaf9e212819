import Foundation

/// A live stream's health as judged from what arrives (docs/contract.md §4, "Stream health").
public enum HealthState: String, Sendable, Equatable, CaseIterable, Comparable {
    case healthy, degraded, starving

    public var rank: Int {
        switch self {
        case .healthy: 0
        case .degraded: 1
        case .starving: 2
        }
    }

    public static func < (a: HealthState, b: HealthState) -> Bool { a.rank < b.rank }
}

/// Seconds spent in each health state (stored with the session: docs/contract.md §4).
public struct HealthSeconds: Sendable, Equatable {
    public var healthy: Double = 0
    public var degraded: Double = 0
    public var starving: Double = 0

    public init(healthy: Double = 0, degraded: Double = 0, starving: Double = 0) {
        self.healthy = healthy
        self.degraded = degraded
        self.starving = starving
    }

    public mutating func add(_ seconds: Double, to state: HealthState) {
        switch state {
        case .healthy: healthy += seconds
        case .degraded: degraded += seconds
        case .starving: starving += seconds
        }
    }

    public var isZero: Bool { healthy == 0 && degraded == 0 && starving == 0 }
}
