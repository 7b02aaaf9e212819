import LiveGateModel
import ChannelStore
import Foundation
import Logging
import ServiceLifecycle
import Webhooks

/// Keeps this node's row in the shared store fresh (issue #14 item 1): registered at start, a
/// heartbeat every `NodeRecord.heartbeatInterval` (2 s), so every node's `/v1/system` lists the
/// nodes and which are healthy, and a surviving node can tell a dead one's leases have expired.
/// A store outage is logged once when it starts and once when it ends, not every 2 s.
struct NodeHeartbeat: Service {
    let store: any ChannelStore
    let node: NodeRecord
    /// Told when a node event was written, so it goes out at once.
    var dispatcher: WebhookDispatcher? = nil
    let logger: Logger

    func run() async throws {
        var failing = false
        var registered = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let now = Date()
                if !registered {
                    var fresh = node
                    fresh.heartbeatAt = now
                    try await store.registerNode(fresh)
                    registered = true
                    dispatcher?.notify()
                    logger.info("node registered", metadata: ["node.id": "\(node.id)", "addresses": "\(node.addresses.joined(separator: " "))"])
                } else if !(try await store.heartbeatNode(id: node.id, at: now)) {
                    registered = false
                    continue
                }
                if failing {
                    failing = false
                    logger.notice("node heartbeat written again")
                }
                // Every node watches the others: a heartbeat older than 15 s is a lost node,
                // announced once (`node.lost`) by whichever node sees it first.
                for lost in try await store.claimLostNodes(now: now, lostAfter: NodeRecord.lostAfter) {
                    logger.warning("node lost: no heartbeat for \(Int(NodeRecord.lostAfter)) s", metadata: [
                        "lost.node": "\(lost.id)", "heartbeat.at": "\(Timestamp.format(lost.heartbeatAt))"])
                    dispatcher?.notify()
                }
            } catch {
                if !failing { logger.warning("node heartbeat not written", metadata: ["error": "\(StoreFactory.describe(error))"]) }
                failing = true
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(Int(NodeRecord.heartbeatInterval * 1000))) }
        }
        // A clean stop: the other nodes (and a next node on the same SQLite file) need not wait
        // 15 s to know it is gone. Stopped last, so its sessions were ended before this.
        guard registered else { return }
        do {
            try await store.removeNode(id: node.id)
            logger.info("node left the nodes list", metadata: ["node.id": "\(node.id)"])
        } catch {
            logger.warning("node not removed from the nodes list", metadata: ["error": "\(StoreFactory.describe(error))"])
        }
    }
}
