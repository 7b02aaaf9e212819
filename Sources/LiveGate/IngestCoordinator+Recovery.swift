import LiveGateModel
import ChannelStore
import Foundation
import IngestCore
import Logging
import MediaPipeline

/// Start-up recovery: what a previous run of this node left behind when it did not stop cleanly.
extension IngestCoordinator {
    /// What a previous run of this node left open — under its id, and under `previousNodeIds`
    /// (the host name a node used before it had a stable id). A session it handed over when it
    /// stopped (or whose publisher had dropped), still inside its reconnect window, waits for its
    /// publisher again (docs/contract.md §6: a restart is not the end of a session). The others
    /// were cut off by a crash, or their window closed while the node was down: they end when
    /// their publisher left, or at this node's last lease renewal — not now, at the restart.
    public func recoverOpenSessions(previousNodeIds: [String] = []) async throws {
        var open: [SessionRecord] = []
        for id in [nodeId] + previousNodeIds { open += try await store.openSessions(nodeId: id) }
        // Ends the previous run decided but could not record (a store outage at shutdown) keep their reason.
        let decided = pendingEnds?.load() ?? [:]
        let now = clock.now()
        for session in open {
            let known = decided[session.id]
            let lease = try await store.lease(channelId: session.channelId).flatMap { $0.sessionId == session.id ? $0 : nil }
            if known == nil, let lease, lease.nodeId == nodeId, lease.state == .reconnecting, let windowEnd = lease.windowEndsAt, windowEnd > now,
               try await resume(session, lease: lease, windowEnd: windowEnd, now: now) {
                continue
            }
            // Live when this node died (a crash, restarted fast): its publisher went with it and
            // may come back, here or anywhere, inside the window counted from the last renewal.
            if known == nil, var lease, lease.nodeId == nodeId, lease.state == .live,
               let window = try await store.channel(id: session.channelId)?.reconnectWindowSec, window > 0 {
                let lastRenewal = lease.expiresAt.addingTimeInterval(-leaseKeeping.configuration.timeToLive)
                let windowEnd = lastRenewal.addingTimeInterval(TimeInterval(window))
                if windowEnd > now,
                   try await store.markLease(channelId: session.channelId, sessionId: session.id, nodeId: nodeId, state: .reconnecting, windowEndsAt: windowEnd,
                                             endReason: OfflineReason.nodeLost.rawValue, leftAt: lastRenewal, now: now, announce: true) {
                    (lease.state, lease.windowEndsAt, lease.endReason, lease.leftAt) = (.reconnecting, windowEnd, OfflineReason.nodeLost.rawValue, lastRenewal)
                    if try await resume(session, lease: lease, windowEnd: windowEnd, now: now) { continue }
                }
            }
            let waitedFor = lease?.state == .reconnecting ? lease?.endReason.flatMap(OfflineReason.init(rawValue:)) : nil
            let reason = known.flatMap { OfflineReason(rawValue: $0.reason) } ?? waitedFor ?? .nodeLost
            var endedAt = known?.endedAt
            if endedAt == nil, let lease {
                let lastRenewal = lease.expiresAt.addingTimeInterval(-leaseKeeping.configuration.timeToLive)
                endedAt = min(now, lease.state == .reconnecting ? (lease.leftAt ?? lastRenewal) : lastRenewal)
            }
            try await end(sessionRecord: session, channel: try await store.channel(id: session.channelId), reason: reason, at: endedAt)
            logger.warning("closed a session left open by a previous run", metadata: ["channel": "\(session.channelId)", "session": "\(session.id)",
                                                                                       "reason": "\(reason.rawValue)"])
        }
        pendingEnds?.clear()
        // The resumed sessions' playlists stay until their window closes (docs/contract.md §6).
        let resumed = Set(channels.keys)
        if let stale = media?.removeStaleHLS(keeping: resumed), !stale.isEmpty {
            logger.warning("removed HLS playlists a previous run left behind", metadata: ["channels": "\(stale.joined(separator: ","))"])
        }
        // Listed now, before any publisher can start a new `.part`; finished in the background by `run()`.
        interrupted = media?.interruptedRecordings() ?? []
    }

    /// Takes a session back into its machine as `reconnecting` until `windowEnd`; false when its
    /// channel is gone (it is ended instead).
    private func resume(_ session: SessionRecord, lease: SessionLease, windowEnd: Date, now: Date) async throws -> Bool {
        guard let channel = try await store.channel(id: session.channelId) else { return false }
        let limits = try await userLimits(channel.userId)
        var tracked = Tracked(machine: ChannelLifecycle(channel: channel, configuration: lifecycle), limits: limits)
        tracked.book.continued(session, leaseAt: now, leaseState: .reconnecting)
        channels[channel.id] = tracked
        let reason = lease.endReason.flatMap(OfflineReason.init(rawValue:)) ?? .shutdown
        let resumed = ChannelLifecycle.Session(id: session.id, startedAt: session.startedAt, remoteAddress: session.remoteAddr, encoder: session.encoder)
        await feed(channel.id) { $0.resumed(resumed, deadline: windowEnd, reason: reason, leftAt: lease.leftAt ?? now, now: now) }
        logger.notice("session resumed after the restart; waiting for its publisher", metadata: [
            "channel": "\(channel.id)", "session": "\(session.id)", "window.ends": "\(Timestamp.format(windowEnd))", "reason": "\(reason.rawValue)"])
        return true
    }

    /// Finishes each interrupted recording into its MP4 and records it with `video.ready`, like
    /// a recording that ended normally. One already on record (the crash came between the record
    /// and the removal of its `.part`) only loses its `.part`; one that fails stays for the next start.
    func recoverInterruptedRecordings() async {
        guard let media else { return }
        let pending = interrupted
        interrupted = []
        for recording in pending where !Task.isCancelled {
            let meta: Logger.Metadata = ["channel": "\(recording.channelId)", "session": "\(recording.sessionId)", "path": "\(recording.partPath)"]
            do {
                if try await store.video(path: recording.finalPath) != nil {
                    media.discard(recording)
                    continue
                }
                guard let file = try await media.finish(recording) else {
                    logger.warning("interrupted recording held no complete frame; removed", metadata: meta)
                    continue
                }
                let userId = try await store.channel(id: recording.channelId)?.userId ?? ""
                let video = try await recordVideo(channelId: recording.channelId, userId: userId, sessionId: recording.sessionId, file: file)
                media.discard(recording)
                logger.warning("recovered a recording the previous run left unfinished",
                               metadata: meta.merging(["video": "\(video.id)", "duration.sec": "\(video.durationSec)"]) { a, _ in a })
            } catch {
                logger.error("could not recover an interrupted recording; kept for the next start", metadata: meta.merging(["error": "\(error)"]) { a, _ in a })
            }
        }
    }
}
