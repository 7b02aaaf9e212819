import ChannelStore
import Foundation
import IngestCore
import LiveGateModel
import RTMPServer

/// Stream health and stats history (docs/contract.md §4, "Stream health", "Stats history"):
/// once a second every live channel's counters go to its `StreamHealthMonitor`; a change it
/// reports becomes `channel.health_changed`, a 10 s point goes to `StatsHistory`. The
/// decisions are the monitor's (IngestCore, pure); this only samples and writes.
extension IngestCoordinator {
    struct HealthEntry {
        var sessionId: String
        /// Out of line: `health` holds one per live channel (`OutOfLine`).
        private var boxed: OutOfLine<StreamHealthMonitor>

        init(sessionId: String, monitor: StreamHealthMonitor) {
            self.sessionId = sessionId
            boxed = OutOfLine(monitor)
        }

        var monitor: StreamHealthMonitor {
            _read { yield boxed.value }
            _modify { yield &boxed.value }
        }
    }

    public func setHealth(rules: HealthRules, historyChannels: Int) {
        healthRules = rules
        statsHistory = StatsHistory(maxChannels: historyChannels)
    }

    /// Samples every channel with a session (the cadence is the caller's: `run()` once a
    /// second, a test by hand with its manual clock).
    public func healthTick() async {
        let now = clock.now()
        statsHistory.expire(now: now)
        for id in Array(channels.keys) {
            guard let tracked = channels[id], tracked.machine.holdsLiveSlot, let record = tracked.book.record else {
                health[id] = nil
                continue
            }
            // Updated in place (`health[id]?.monitor…`, the dictionary's modify access): no copy
            // of the entry is held while it changes, which would make the out-of-line monitor
            // shared and the update copy it (`OutOfLine`); nor taken out and put back, a removal
            // and an insertion per channel and second (docs/architecture.md "The coordinator's tick").
            if health[id]?.sessionId != record.id {
                health[id] = HealthEntry(sessionId: record.id, monitor: StreamHealthMonitor(rules: healthRules, now: now))
            }
            guard let ingest = current(tracked) else {
                health[id]?.monitor.pause()
                continue
            }
            let c = ingest.healthCounters(declaredFps: tracked.book.declaredFps(of: ingest.connectionID))
            let dropped = (media?.outputs(connectionID: ingest.connectionID) ?? []).reduce(0) { $0 + $1.droppedPackets }
            let sample = HealthSample(connection: ingest.connectionID, videoFrames: c.videoFrames, videoBytes: c.videoBytes, audioBytes: c.audioBytes,
                                      videoIdleSec: c.videoIdleSec, streamFps: c.streamFps, keyframes: c.keyframes,
                                      lastKeyframeIntervalSec: c.lastKeyframeIntervalSec, sinceKeyframeSec: c.sinceKeyframeSec,
                                      avDriftMs: c.avDriftMs, timestampLagMs: c.timestampLagMs, droppedPackets: dropped)
            guard let output = health[id]?.monitor.observe(sample, now: now) else { continue }
            if let point = output.point { statsHistory.append(point, channelId: id, sessionId: record.id, now: now) }
            if let change = output.change, let figures = health[id]?.monitor.current(droppedPackets: dropped) {
                await healthChanged(change, channelId: id, sessionId: record.id, figures: figures)
            }
        }
        for id in health.keys where channels[id] == nil { health[id] = nil }
    }

    func healthChanged(_ change: StreamHealthMonitor.Change, channelId: String, sessionId: String, figures: ChannelHealth) async {
        guard let tracked = channels[channelId] else { return }
        logger.notice("stream health changed", metadata: ["channel": "\(channelId)", "session": "\(sessionId)", "health": "\(change.state.rawValue)",
                                                          "previous": "\(change.previous.rawValue)", "reasons": "\(change.reasons.joined(separator: "; "))"])
        let event = NewEvent.make(type: EventType.channelHealthChanged.rawValue, channelId: channelId, userId: tracked.machine.channel.userId,
                                  at: change.at, data: .object([
                                      "channel": (await eventChannel(channelId) ?? tracked.machine.channel).eventJSON, "sessionId": .string(sessionId),
                                      "nodeId": .string(nodeId), "health": .string(change.state.rawValue), "previous": .string(change.previous.rawValue),
                                      "reasons": .array(change.reasons.map { .string($0) }), "figures": figures.json,
                                  ]))
        await write("channel.health_changed") { [store] in _ = try await store.appendEvent(event, now: change.at) }
    }

    /// `health` of `/stats` while a publisher is connected (nil before the first sample).
    func currentHealth(_ channelId: String, droppedPackets: Int) -> ChannelHealth? {
        guard let entry = health[channelId], entry.monitor.connection != nil else { return nil }
        return entry.monitor.current(droppedPackets: droppedPackets)
    }

    /// The seconds in each state of a connection that ended (written with it).
    func healthSeconds(channelId: String, connection: UInt64) -> HealthSeconds? {
        guard let entry = health[channelId], entry.monitor.connection == connection else { return nil }
        return entry.monitor.connectionSeconds
    }

    func setThumbnails(intervalSec: Double, maxDecodesPerSec: Double) {
        thumbnails = ThumbnailService(settings: .init(intervalSec: intervalSec, maxDecodesPerSec: maxDecodesPerSec), logger: logger)
    }

    /// `LiveSessionControl`: a picture of the channel's publisher on this node.
    public func thumbnail(_ channelId: String, width: Int?) async -> ThumbnailAnswer {
        guard let tracked = channels[channelId], tracked.machine.holdsLiveSlot, let ingest = current(tracked), let thumbnails else { return .notLive }
        return await thumbnails.thumbnail(channelId: channelId, session: ingest, width: width)
    }

    /// `LiveSessionControl`: this node's history of the channel.
    public func statsHistory(_ channelId: String, window: TimeInterval) async -> StatsHistorySeries? {
        guard let s = statsHistory.points(channelId: channelId, window: window, now: clock.now()) else { return nil }
        return StatsHistorySeries(sessionId: s.sessionId, nodeId: nodeId, points: s.points, updatedAt: s.updatedAt)
    }
}
