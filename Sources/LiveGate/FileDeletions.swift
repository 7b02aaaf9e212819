import LiveGateModel
import ChannelStore
import Foundation
import Logging
import ServiceLifecycle

/// Applies the file removals queued for this node (docs/contract.md §7, "Files on several
/// nodes"): a recording deleted through any node — or by retention — leaves a row naming the
/// node that holds its file; that node removes the file and the row. A removal that fails (a
/// read-only disk, a busy NFS server) stays queued and is tried again every `interval`, its
/// error logged once; a file that is already gone counts as removed.
struct FileDeletions: Service {
    let store: any ChannelStore
    let nodeId: String
    var interval: Duration = .seconds(2)
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await apply()
            } catch {
                logger.warning("queued file removals not read; tried again", metadata: ["error": "\(StoreFactory.describe(error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// Removes every queued file of this node now; the number removed.
    @discardableResult
    func apply() async throws -> Int {
        var removed = 0
        while true {
            let batch = try await store.fileDeletions(nodeId: nodeId, limit: 100)
            var progressed = false
            for item in batch {
                if let problem = Self.remove(item.path) {
                    if item.attempts == 0 {
                        logger.warning("recording file not removed; kept queued and tried again", metadata: [
                            "path": "\(item.path)", "error": "\(problem)"])
                    }
                    try await store.failFileDeletion(seq: item.seq, error: problem)
                    continue
                }
                try await store.finishFileDeletion(seq: item.seq)
                removed += 1
                progressed = true
            }
            if batch.count < 100 || !progressed { return removed }
        }
    }

    /// Nil when the file is gone (removed now, or already).
    static func remove(_ path: String) -> String? {
        if unlink(path) == 0 || errno == ENOENT { return nil }
        return String(cString: strerror(errno))
    }
}
