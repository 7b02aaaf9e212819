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

    /// How long a lease outlives its last renewal: renewed every `NodeRecord.heartbeatInterval`
    /// (2 s), so a node is taken for lost after ~5 missed beats and its sessions end within 15 s.
    public static let timeToLive: TimeInterval = 10

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
    /// A publisher carries the session on `node` and the policy is `reject`.
    case busy(node: String)
}

/// A session ended by `claimExpiredLeases`: its node stopped renewing the lease.
public struct LostSession: Sendable, Equatable {
    public var session: SessionRecord
    public var lostNode: String
    public var event: StoredEvent

    public init(session: SessionRecord, lostNode: String, event: StoredEvent) {
        self.session = session
        self.lostNode = lostNode
        self.event = event
    }
}
