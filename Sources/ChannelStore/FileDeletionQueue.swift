import Foundation
import LiveGateModel
import Logging

/// Applies the file removals queued for one node (docs/contract.md §7, "Files on several
/// nodes"): a recording deleted through any node — or by retention — leaves a row naming the
/// node that holds its file; that node removes the file and the row. A removal that fails (a
/// read-only disk, a busy NFS server) stays queued, its error logged on the first failure; a
/// file that is already gone counts as removed.
public struct FileDeletionQueue: Sendable {
    let store: any ChannelStore
    let nodeId: String
    let logger: Logger

    public init(store: any ChannelStore, nodeId: String, logger: Logger) {
        self.store = store
        self.nodeId = nodeId
        self.logger = logger
    }

    /// Removes every queued file of this node now; the number removed.
    @discardableResult
    public func apply() async throws -> Int {
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
        // A recording's poster (`<file>.jpg`, docs/contract.md §4 "Thumbnails") goes with it.
        if path.hasSuffix(".mp4") { _ = unlink(path + ".jpg") }
        if unlink(path) == 0 || errno == ENOENT { return nil }
        return String(cString: strerror(errno))
    }
}
