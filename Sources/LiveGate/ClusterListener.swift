import LiveGateModel
import ChannelStore
import Foundation
import Logging
import ServiceLifecycle

/// Receives the other nodes' messages (PostgreSQL `LISTEN`) and hands them to this node's
/// coordinator. Each time listening (re)starts, the leases are renewed at once: a lease move
/// sent while the connection was down is found missing there.
struct ClusterListener: Service {
    let url: String
    let coordinator: IngestCoordinator
    let nodeId: String
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown { [url, coordinator, nodeId, logger] in
            await ClusterNotifications.listen(url: url, logger: logger, onConnected: {
                try? await coordinator.renewLeases(now: coordinator.clock.now())
            }, onMessage: { message in
                guard message.origin != nodeId else { return }
                await coordinator.handle(message)
            })
        }
    }
}
