import Foundation

/// Hooks into live sessions, so deleting a channel, resetting its key or disabling it kicks the
/// current publisher: the port the API drives the ingest domain through. `IngestCoordinator`
/// implements it (`ClusterSessionControl` adds the other nodes); without ingest nothing is live.
public protocol LiveSessionControl: Sendable {
    /// The API changed a channel so that its publisher must go (kicked; the session ends with the change's reason).
    func channelChanged(_ channelId: String, change: ChannelChange) async
    /// Measured stats of a channel with a session (`/v1/channels/{id}/stats`); nil when it has none.
    func channelStats(_ channelId: String) async -> ChannelStats?
    /// Connections, live channels and ingest bit rate for `/v1/system/stats`.
    func ingestSummary() async -> JSONValue
    /// The live session's outputs (`kind`, `id`, `state`, `droppedPackets` …); empty when offline.
    func outputs(_ channelId: String) async -> [ChannelStats.Output]
    /// A user's limits were replaced (drop any cached copy).
    func userLimitsChanged(_ userId: String) async
    /// A channel's forwards were created, changed or deleted: a live session applies them now.
    func forwardsChanged(_ channelId: String) async
    /// A channel was edited (policy, reconnect window …): its live session decides by the new values from now on.
    func channelEdited(_ channel: Channel) async
    /// Asks the channel's publisher to move (Enhanced RTMP ReconnectRequest), wherever it is.
    func requestReconnect(_ channelId: String) async -> ReconnectResult
    /// This node's 10 s points of the channel within `window` seconds (nil: it keeps none).
    func statsHistory(_ channelId: String, window: TimeInterval) async -> StatsHistorySeries?
    /// A picture of the channel's publisher on this node (`.notLive`: none here).
    func thumbnail(_ channelId: String, width: Int?) async -> ThumbnailAnswer
}

/// What `POST /v1/channels/{id}/reconnect` did (docs/contract.md §6, "Moving publishers").
public enum ReconnectResult: Sendable, Equatable {
    /// Sent by `nodeId`; the publisher's token is valid until `validUntil` (nil: sent through
    /// another node, which decided).
    case sent(nodeId: String, validUntil: Date?)
    case notLive
    /// The encoder did not declare Reconnect in `capsEx` (it would not understand the request).
    case notCapable
}

extension LiveSessionControl {
    public func outputs(_ channelId: String) async -> [ChannelStats.Output] { [] }
    public func userLimitsChanged(_ userId: String) async {}
    public func forwardsChanged(_ channelId: String) async {}
    public func channelEdited(_ channel: Channel) async {}
    public func requestReconnect(_ channelId: String) async -> ReconnectResult { .notLive }
    public func statsHistory(_ channelId: String, window: TimeInterval) async -> StatsHistorySeries? { nil }
    public func thumbnail(_ channelId: String, width: Int?) async -> ThumbnailAnswer { .notLive }
}

public struct NoLiveSessions: LiveSessionControl {
    public init() {}
    public func channelChanged(_ channelId: String, change: ChannelChange) async {}
    public func channelStats(_ channelId: String) async -> ChannelStats? { nil }
    public func ingestSummary() async -> JSONValue { .object(["connections": .number(0), "liveChannels": .number(0), "ingestBitrateKbps": .number(0)]) }
}
