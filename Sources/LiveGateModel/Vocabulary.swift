/// The typed vocabulary of the lifecycle, shared by the store's events, the API and the
/// ingest side: raw values are the wire names (docs/contract.md §5), so nothing compares strings.

/// Why a session ended (docs/contract.md §5 `reason` of `channel.offline`). The raw values are the wire names.
public enum OfflineReason: String, Sendable, Equatable, CaseIterable {
    case unpublished
    case connectionClosed = "connection_closed"
    case mediaTimeout = "media_timeout"
    case kicked
    case keyReset = "key_reset"
    case disabled
    case deleted
    case limitExceeded = "limit_exceeded"
    case shutdown
    case nodeLost = "node_lost"
}

/// The webhook event types (docs/contract.md §5).
public enum EventType: String, Sendable, Equatable, CaseIterable {
    case channelLive = "channel.live"
    case channelOffline = "channel.offline"
    case channelPublishRejected = "channel.publish_rejected"
    case channelLimitExceeded = "channel.limit_exceeded"
    /// The publisher dropped; the reconnect window is open (reason, when it left, window end).
    case channelDisconnected = "channel.disconnected"
    /// A publisher came back inside the window: the same session goes on.
    case channelReconnected = "channel.reconnected"
    /// The tracks of a publisher, once its first sequence headers were parsed.
    case channelMedia = "channel.media"
    /// A live stream's health changed (at most one per channel per `health.eventIntervalSec`).
    case channelHealthChanged = "channel.health_changed"
    case videoReady = "video.ready"
    case videoDeleted = "video.deleted"
    case forwardFailed = "forward.failed"
    case webhookPing = "webhook.ping"
    case webhookDisabled = "webhook.disabled"
    /// A node registered (it started) or its heartbeat came back after it was taken for lost.
    case nodeJoined = "node.joined"
    /// A node's heartbeat is older than `NodeRecord.lostAfter`: it crashed or is cut off.
    case nodeLost = "node.lost"

    /// The types the event log keeps (`/v1/events`): all but `webhook.ping`, which is sent to
    /// one webhook on request and is no event of the gateway.
    public static var logged: [EventType] { allCases.filter { $0 != .webhookPing } }
}

/// A change made to a channel through the API that matters to a live session.
public enum ChannelChange: String, Sendable, Equatable {
    // Raw values: the API's names for them.
    case keyReset = "key_reset"
    case disabled
    case deleted

    public var offlineReason: OfflineReason {
        switch self {
        case .keyReset: return .keyReset
        case .disabled: return .disabled
        case .deleted: return .deleted
        }
    }
}

/// The per-user limits (docs/contract.md §4 user config) that a publish or a running session can exceed.
public enum UserLimit: String, Sendable, Equatable, CaseIterable {
    case maxConcurrentLive
    case maxBitrateKbps
    case maxWidth
    case maxHeight
    case maxFps
    case maxSessionSec
    case allowedVideoCodecs
}
