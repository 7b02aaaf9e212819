import LiveGateModel
import ChannelStore
import Foundation
import IngestCore
import Logging
import MediaPipeline

/// Start-up recovery: what a previous run of this node left behind when it did not stop cleanly.
extension IngestCoordinator {
    /// Closes the sessions a previous run of this node left open (`node_lost`): under its id,
    /// and under `previousNodeIds` — the host name a node used before it had a stable id. A clean
    /// stop closes them with `shutdown`, so any still open were cut off by a crash.
    public func recoverOpenSessions(previousNodeIds: [String] = []) async throws {
        var open: [SessionRecord] = []
        for id in [nodeId] + previousNodeIds { open += try await store.openSessions(nodeId: id) }
        // Ends the previous run decided but could not record (a store outage at shutdown) keep their reason.
        let decided = pendingEnds?.load() ?? [:]
        for session in open {
            let known = decided[session.id]
            let reason = known.flatMap { OfflineReason(rawValue: $0.reason) } ?? .nodeLost
            // Cut off by a crash: the session ended when its publisher left, or at this node's
            // last lease renewal — not now, at the restart (docs/contract.md §2: durations are billed).
            var endedAt = known?.endedAt
            if endedAt == nil, let lease = try await store.lease(channelId: session.channelId), lease.sessionId == session.id {
                let lastRenewal = lease.expiresAt.addingTimeInterval(-SessionLease.timeToLive)
                endedAt = min(clock.now(), lease.state == .reconnecting ? (lease.leftAt ?? lastRenewal) : lastRenewal)
            }
            try await end(sessionRecord: session, channel: try await store.channel(id: session.channelId), reason: reason, at: endedAt)
            logger.warning("closed a session left open by a previous run", metadata: ["channel": "\(session.channelId)", "session": "\(session.id)",
                                                                                       "reason": "\(reason.rawValue)"])
        }
        pendingEnds?.clear()
        if let stale = media?.removeStaleHLS(), !stale.isEmpty {
            logger.warning("removed HLS playlists a previous run left behind", metadata: ["channels": "\(stale.joined(separator: ","))"])
        }
        // Listed now, before any publisher can start a new `.part`; finished in the background by `run()`.
        interrupted = media?.interruptedRecordings() ?? []
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
