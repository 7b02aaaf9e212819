import LiveGateModel
import ChannelStore
import Foundation
import Logging
import ServiceLifecycle

/// Applies the file removals queued for this node (`FileDeletionQueue`) every `interval`, so a
/// recording deleted through another node loses its file here within seconds, and a removal
/// that failed is tried again.
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
        try await FileDeletionQueue(store: store, nodeId: nodeId, logger: logger).apply()
    }
}
