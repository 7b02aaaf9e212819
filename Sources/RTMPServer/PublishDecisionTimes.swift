import NIOConcurrencyHelpers
import NIOCore

/// How long publish decisions take, measured in the server: from the `publish` command read off
/// the socket to the answer written (`NetStream.Publish.Start`, or the refusal). This is the
/// figure a broadcaster waits for after its `publish` — the key lookup, the limits, the session's
/// transaction and the hops between them — without the handshake and `connect` a client-side
/// timer adds (docs/contract.md §6, `livegate_publish_decision_seconds`).
///
/// A fixed-bucket histogram, as Prometheus expects it (cumulative counts per upper bound): one
/// lock per decision, nothing allocated. Accepts and refusals are kept apart — a refusal without a
/// lookup (a throttled address) is much faster and would flatter the figure.
public final class PublishDecisionTimes: Sendable {
    /// Upper bounds in seconds: fine where the target is (≤ 5 ms on SQLite, ≤ 10 ms on
    /// PostgreSQL), coarse where only "slow" matters.
    public static let bounds: [Double] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5]

    public enum Outcome: String, Sendable, CaseIterable { case accepted, refused }

    /// Counts per bucket (the last is +Inf), not cumulative; the sum in seconds.
    public struct Snapshot: Sendable, Equatable {
        public var counts: [UInt64]
        public var sum: Double
        public var count: UInt64 { counts.reduce(0, +) }

        static var empty: Snapshot { Snapshot(counts: [UInt64](repeating: 0, count: PublishDecisionTimes.bounds.count + 1), sum: 0) }

        /// (upper bound, cumulative count) pairs, `+Inf` last — Prometheus's `_bucket` lines.
        public var cumulative: [(Double, UInt64)] {
            var running: UInt64 = 0
            return counts.enumerated().map { i, n in
                running += n
                return (i < PublishDecisionTimes.bounds.count ? PublishDecisionTimes.bounds[i] : .infinity, running)
            }
        }
    }

    private let state = NIOLockedValueBox([Outcome: Snapshot](uniqueKeysWithValues: Outcome.allCases.map { ($0, .empty) }))

    public init() {}

    public func record(_ outcome: Outcome, _ duration: TimeAmount) {
        let seconds = Double(duration.nanoseconds) / 1e9
        let bucket = Self.bounds.firstIndex { seconds <= $0 } ?? Self.bounds.count
        state.withLockedValue {
            $0[outcome]!.counts[bucket] += 1
            $0[outcome]!.sum += seconds
        }
    }

    public func snapshot(_ outcome: Outcome) -> Snapshot {
        state.withLockedValue { $0[outcome] ?? .empty }
    }
}
