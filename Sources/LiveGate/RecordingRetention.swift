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
/// Several nodes: each sweeps; the row goes once (the other node's delete finds nothing). A
/// recording whose file is on another node is left to that node, unless it is a day past its
/// retention (its file is gone, or its node is), so a row never outlives its retention for good.
struct RecordingRetention: Service {
    let store: any ChannelStore
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
    func sweep(now: Date, fileExists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }) async throws -> Int {
        var deleted = 0
        while true {
            let expired = try await store.expiredVideos(defaultDays: defaultDays, now: now, limit: 100)
            var progressed = false
            for video in expired {
                let local = fileExists(video.path)
                let graceOver = try await isDayPastRetention(video, now: now)
                guard local || graceOver else { continue }
                guard let gone = try await store.deleteVideo(id: video.id, reason: "retention", now: now) else { continue }
                progressed = true
                deleted += 1
                if local { try? FileManager.default.removeItem(atPath: gone.path) }
                logger.info("recording deleted: past its retention", metadata: [
                    "video": "\(gone.id)", "channel": "\(gone.channelId)", "user": "\(gone.userId)", "file.here": "\(local)"])
            }
            if deleted > 0 { dispatcher?.notify() }
            if expired.count < 100 || !progressed { return deleted }
        }
    }

    private func isDayPastRetention(_ video: Video, now: Date) async throws -> Bool {
        let days = try await store.userLimits(userId: video.userId).retentionDays.map(Double.init) ?? defaultDays ?? .infinity
        return video.createdAt < now.addingTimeInterval(-(days + 1) * 86_400)
    }
}
