import Foundation

/// What a publish finds when its channel's lease is already held, as the store reads it inside
/// the transaction that decides (docs/contract.md §2 across nodes, §7).
public struct LeaseFacts: Sendable, Equatable {
    public var lease: SessionLease
    public var now: Date
    /// The channel's duplicate policy is `replace`.
    public var takeOver: Bool
    /// The channel's `reconnectWindowSec`: how long after its node's last renewal a lost node's
    /// live session may still be continued by its publisher coming back.
    public var reconnectWindow: TimeInterval
    /// The lease's lifetime and renewal period (`cluster.leaseTtlSec`): its last renewal is its
    /// expiry less its lifetime; a renewal later than one period (and a second's grace) is overdue.
    public var timeToLive: TimeInterval
    public var renewInterval: TimeInterval

    public init(lease: SessionLease, now: Date, takeOver: Bool, reconnectWindow: TimeInterval = 0,
                timeToLive: TimeInterval = SessionLease.timeToLive, renewInterval: TimeInterval = SessionLease.renewInterval) {
        self.lease = lease
        self.now = now
        self.takeOver = takeOver
        self.reconnectWindow = reconnectWindow
        self.timeToLive = timeToLive
        self.renewInterval = renewInterval
    }

    /// When the holder last renewed the lease.
    public var lastRenewal: Date { lease.expiresAt.addingTimeInterval(-timeToLive) }
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
    /// The holder `node` has stopped renewing the lease, which has not expired yet: the publish
    /// waits (until `until`, the lease's expiry) and asks again, rather than being refused for
    /// a node that is probably dead.
    case holderSilent(node: String, until: Date)
}

/// The rule the store runs on the facts (`IngestCore.CrossNodeDecision.rule`): passed in, so the
/// decision lives with the ingest domain and the store only reads facts and applies verdicts.
public typealias LeaseRule = @Sendable (LeaseFacts) -> LeaseVerdict
