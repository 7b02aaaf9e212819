import LiveGateModel
import ChannelStore
import Foundation
import Logging
import ServiceLifecycle
import Webhooks

/// Deletes recordings past their retention (docs/api.md, "Recordings lifecycle"):
/// `recordings.retentionDays`, or the owner's `retentionDays` in its user config. Each deletion
/// removes the row and logs `video.deleted` (reason `retention`) in one transaction, then the
/// file. Sweeps at start and every `interval`.
///
/// Several nodes: each sweeps; the row goes once (the other node's delete finds nothing), and
/// the file's removal is queued for the node that holds it (`FileDeletions`).
struct RecordingRetention: Service {
    let store: any ChannelStore
    let nodeId: String
    let defaultDays: Double?
    let dispatcher: WebhookDispatcher?
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await sweep(now: Date())
            } catch {
                logger.warning("recording retention sweep failed; retried at the next", metadata: ["error": "\(StoreFactory.describe(error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// One sweep at `now`: the number of recordings deleted.
    @discardableResult
    func sweep(now: Date) async throws -> Int {
        var deleted = 0
        while true {
            let expired = try await store.expiredVideos(defaultDays: defaultDays, now: now, limit: 100)
            var progressed = false
            for video in expired {
                guard let gone = try await store.deleteVideo(id: video.id, reason: "retention", now: now, byNode: nodeId) else { continue }
                progressed = true
                deleted += 1
                logger.info("recording deleted: past its retention", metadata: [
                    "video": "\(gone.id)", "channel": "\(gone.channelId)", "user": "\(gone.userId)", "file.node": "\(gone.nodeId ?? nodeId)"])
            }
            if deleted > 0 { dispatcher?.notify() }
            if expired.count < 100 || !progressed { break }
        }
        // This node's files go now; another node's with its next pass.
        if deleted > 0 { _ = try? await FileDeletionQueue(store: store, nodeId: nodeId, logger: logger).apply() }
        return deleted
    }

}
