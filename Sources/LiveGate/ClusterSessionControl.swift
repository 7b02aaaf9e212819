import LiveGateModel
import ChannelStore
import ControlAPI
import Foundation
import Logging

/// What the API tells the live sessions, on every node (issue #14 item 5): applied to this
/// node's sessions at once and sent to the others (`ClusterMessage` over PostgreSQL `NOTIFY`),
/// so a change made through any node reaches the node holding the publisher within a second.
/// Stats of a session another node carries come from the snapshot it stores with its lease.
struct ClusterSessionControl: LiveSessionControl {
    let local: IngestCoordinator
    let store: any ChannelStore
    let nodeId: String
    let logger: Logger

    private func tellOthers(_ message: ClusterMessage) async {
        do {
            try await store.broadcast(message)
        } catch {
            // The holder's periodic resync (lease renewal, limits cache) still catches up.
            logger.warning("change not sent to the other nodes", metadata: ["message": "\(message.payload)", "error": "\(StoreFactory.describe(error))"])
        }
    }

    func channelChanged(_ channelId: String, change: ChannelChange) async {
        await local.channelChanged(channelId, change: change)
        await tellOthers(.channelChanged(channelId: channelId, change: change, origin: nodeId))
    }

    func channelEdited(_ channel: Channel) async {
        await local.channelEdited(channel)
        await tellOthers(.channelEdited(channelId: channel.id, origin: nodeId))
    }

    func userLimitsChanged(_ userId: String) async {
        await local.userLimitsChanged(userId)
        await tellOthers(.userLimitsChanged(userId: userId, origin: nodeId))
    }

    func forwardsChanged(_ channelId: String) async {
        await local.forwardsChanged(channelId)
        await tellOthers(.forwardsChanged(channelId: channelId, origin: nodeId))
    }

    func channelStats(_ channelId: String) async -> ChannelStats? {
        if let here = await local.channelStats(channelId) { return here }
        guard let lease = try? await store.lease(channelId: channelId), lease.nodeId != nodeId, let text = lease.stats,
              let parsed = JSONValue.parse(text), var stats = ChannelStats(json: parsed) else { return nil }
        // The snapshot is up to a heartbeat old: the session's age is now's.
        if let record = try? await store.session(id: lease.sessionId) { stats.uptimeSec = Date().timeIntervalSince(record.startedAt) }
        return stats
    }

    func outputs(_ channelId: String) async -> [ChannelStats.Output] {
        let here = await local.outputs(channelId)
        if !here.isEmpty { return here }
        return await channelStats(channelId)?.outputs ?? []
    }

    func ingestSummary() async -> JSONValue { await local.ingestSummary() }

    /// This node's; the API asks the holder itself when the publisher is elsewhere.
    func thumbnail(_ channelId: String, width: Int?) async -> ThumbnailAnswer { await local.thumbnail(channelId, width: width) }

    /// This node's; the API asks the other nodes itself when there is none (`ControlAPI+History`).
    func statsHistory(_ channelId: String, window: TimeInterval) async -> StatsHistorySeries? {
        await local.statsHistory(channelId, window: window)
    }

    func requestReconnect(_ channelId: String) async -> ReconnectResult {
        let here = await local.requestReconnect(channelId, why: "Asked through the API; please reconnect.")
        guard here == .notLive else { return here }
        // Live on another node: the holder asks (it alone knows what its publisher declared).
        guard let lease = try? await store.lease(channelId: channelId), lease.nodeId != nodeId, lease.state == .live else { return .notLive }
        await tellOthers(.reconnectRequested(channelId: channelId, origin: nodeId))
        return .sent(nodeId: lease.nodeId, validUntil: nil)
    }
}
