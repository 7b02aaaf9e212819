import Foundation
import LiveGateModel

/// When a node renews the leases it holds, re-reads the channels it carries, and sweeps the
/// leases of lost nodes (docs/contract.md §7) — pure, time as an input. `IngestCoordinator`
/// asks `due(now:)` about once a second (or a test, on a manual clock) and reports how each
/// renewal went.
///
/// A node sweeps only once its own renewals have succeeded for a whole lease lifetime: after an
/// outage of the store itself every lease is stale, and a node that swept at once would end the
/// sessions of nodes that are alive but had not renewed yet. A node cut off alone is swept by
/// the others, whose store never failed.
public struct LeaseKeeping: Sendable, Equatable {
    public struct Configuration: Sendable, Equatable {
        /// How often the leases are renewed (the heartbeat).
        public var renewInterval: TimeInterval
        /// How long a lease lives without renewal.
        public var timeToLive: TimeInterval
        /// How often carried channels are re-read (the fallback for a lost cluster message);
        /// nil: never (one node alone).
        public var resyncInterval: TimeInterval?

        public init(renewInterval: TimeInterval = NodeRecord.heartbeatInterval, timeToLive: TimeInterval = SessionLease.timeToLive,
                    resyncInterval: TimeInterval? = 10) {
            self.renewInterval = renewInterval
            self.timeToLive = timeToLive
            self.resyncInterval = resyncInterval
        }
    }

    public enum Duty: Sendable, Equatable {
        case renew
        case resync
        case sweep
    }

    public let configuration: Configuration
    private var lastRenewal: Date?
    private var lastResync: Date?
    /// Since when renewals have succeeded without a failure (nil: failing, or never tried).
    private var healthySince: Date?
    /// Whether the last renewal failed (an outage: logged once).
    public private(set) var failing = false

    public init(configuration: Configuration = Configuration(), startedAt: Date) {
        self.configuration = configuration
        lastResync = startedAt
    }

    /// What is due at `now`, in the order to do it. A renewal is asked for once per interval;
    /// its outcome comes back through `renewed(at:ok:)`.
    public mutating func due(now: Date) -> [Duty] {
        var duties: [Duty] = []
        if lastRenewal.map({ now.timeIntervalSince($0) >= configuration.renewInterval }) ?? true {
            lastRenewal = now
            duties.append(.renew)
        }
        if let interval = configuration.resyncInterval, lastResync.map({ now.timeIntervalSince($0) >= interval }) ?? true {
            lastResync = now
            duties.append(.resync)
        }
        if let since = healthySince, now.timeIntervalSince(since) >= configuration.timeToLive {
            duties.append(.sweep)
        }
        return duties
    }

    /// How the renewal begun at `at` went. Returns whether the change is worth a log line (the
    /// first failure of an outage, or the first success after one).
    public mutating func renewed(at: Date, ok: Bool) -> Bool {
        defer { failing = !ok }
        if ok {
            if healthySince == nil { healthySince = at }
            return failing
        }
        healthySince = nil
        return !failing
    }
}
