import Foundation

/// A channel's ownership in the shared store (issue #14 item 2): while a session is live or
/// reconnecting, the node carrying it holds the channel's lease — one row per channel, unique
/// by its primary key, so of two nodes deciding at once exactly one holds it. The holder renews
/// it with its heartbeat; a lease not renewed for `SessionLease.timeToLive` belongs to a lost
/// node, and a surviving node ends its session with `node_lost` (`claimExpiredLeases`).
public struct SessionLease: Sendable, Equatable {
    public enum State: String, Sendable {
        /// A publisher carries the session on the holder.
        case live
        /// The publisher is gone; the session waits for it until `windowEndsAt` (docs/contract.md §2).
        case reconnecting
    }

    public var channelId: String
    public var sessionId: String
    public var nodeId: String
    public var state: State
    /// Reconnecting: when the window closes, and the reason the session ends with then.
    public var windowEndsAt: Date?
    public var endReason: String?
    public var expiresAt: Date
    /// Reconnecting: when the last publisher left (the session's end if nobody comes back).
    public var leftAt: Date?
    /// The holder's latest snapshot of `/v1/channels/{id}/stats` (JSON), for the other nodes' API.
    public var stats: String?

    /// How long a lease outlives its last renewal by default (`cluster.leaseTtlSec`): renewed
    /// every `renewInterval`, so a dead node's sessions can be continued elsewhere 5 s after
    /// its last renewal — two missed renewals, never one late write.
    public static let timeToLive: TimeInterval = 5
    /// How often the holder renews its leases by default: 2 s, or less for a short lifetime
    /// (`renewInterval(timeToLive:)`).
    public static let renewInterval: TimeInterval = 2

    /// The renewal period for a lease lifetime: at least two renewals fit in it.
    public static func renewInterval(timeToLive: TimeInterval) -> TimeInterval { min(renewInterval, timeToLive / 2.5) }

    public init(channelId: String, sessionId: String, nodeId: String, state: State, windowEndsAt: Date? = nil, endReason: String? = nil,
                expiresAt: Date, stats: String? = nil, leftAt: Date? = nil) {
        self.leftAt = leftAt
        self.channelId = channelId
        self.sessionId = sessionId
        self.nodeId = nodeId
        self.state = state
        self.windowEndsAt = windowEndsAt
        self.endReason = endReason
        self.expiresAt = expiresAt
        self.stats = stats
    }
}

/// What a publish found when it asked for a channel's lease (`acquireSession`).
public enum SessionStart: Sendable, Equatable {
    /// No session anywhere: this one started (channel live, `channel.live` queued).
    case started(StoredEvent)
    /// Another node's session continues here: its publisher reconnected to this node inside the
    /// window, or (`replaced`) this publish replaces it by the channel's `replace` policy. The
    /// lease and the session row moved to this node; the old holder is told (`ClusterMessage.leaseMoved`).
    case continued(SessionRecord, fromNode: String, replaced: Bool)
    /// A publisher carries the session on `node` and the policy is `reject`. `retryAt`: when
    /// that node's lease expires unless renewed (on the caller's clock); `late`: its renewal is
    /// already overdue. A publish to a session whose node is dead is held until `retryAt` and
    /// asked again — it then continues the session instead of being refused.
    case busy(node: String, retryAt: Date?, late: Bool)
}

/// What a lease renewal found (`renewLeases`): the leases renewed — the sessions the node said
/// it carries — and the leases the store holds under the node's id for sessions it does not
/// carry, which were left to expire (channel → session, both).
public struct LeaseRenewal: Sendable, Equatable {
    public var held: [String: String]
    public var notCarried: [String: String]

    public init(held: [String: String], notCarried: [String: String] = [:]) {
        self.held = held
        self.notCarried = notCarried
    }
}

/// A session ended by `claimExpiredLeases`: its node stopped renewing the lease.
/// A lost node's live session inside its window is not ended but waits for its publisher
/// (`waitingUntil`, with `channel.disconnected` as `event`).
public struct LostSession: Sendable, Equatable {
    public var session: SessionRecord
    public var lostNode: String
    public var event: StoredEvent
    /// Not ended: waiting for its publisher until then (the node's last renewal plus the
    /// channel's window).
    public var waitingUntil: Date?

    public init(session: SessionRecord, lostNode: String, event: StoredEvent, waitingUntil: Date? = nil) {
        self.session = session
        self.lostNode = lostNode
        self.event = event
        self.waitingUntil = waitingUntil
    }
}
