import Foundation

/// What a publish finds when its channel's lease is already held, as the store reads it inside
/// the transaction that decides (docs/contract.md §2 across nodes, §7).
public struct LeaseFacts: Sendable, Equatable {
    public var lease: SessionLease
    public var now: Date
    /// The channel's duplicate policy is `replace`.
    public var takeOver: Bool

    public init(lease: SessionLease, now: Date, takeOver: Bool) {
        self.lease = lease
        self.now = now
        self.takeOver = takeOver
    }
}

/// What the decision table says about those facts; the store carries it out in the same transaction.
public enum LeaseVerdict: Sendable, Equatable {
    /// The holder's session is over — its node is lost, or its reconnect window closed — and ends
    /// with this reason; then the publish asks again (and finds the channel free).
    case endThenRetry(reason: OfflineReason)
    /// This publish continues the holder's session here: a reconnect inside the window, or
    /// (`replaced`) the `replace` policy taking it over.
    case continueHere(replaced: Bool)
    /// A publisher carries the session on `node` and the policy is `reject`: `BadName`.
    case busy(node: String)
}

/// The rule the store runs on the facts (`IngestCore.CrossNodeDecision.rule`): passed in, so the
/// decision lives with the ingest domain and the store only reads facts and applies verdicts.
public typealias LeaseRule = @Sendable (LeaseFacts) -> LeaseVerdict
