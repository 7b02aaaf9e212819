import LiveGateModel
import Hummingbird
import NIOConcurrencyHelpers
import RTMPServer
import ServiceLifecycle

/// Runs a listener service and, when it fails before it was up, says which listener and which
/// address (`ListenerBindError`) instead of a bare `bind(...)` errno.
struct NamedListener: Service {
    /// Set once the listener is accepting connections.
    final class RunningFlag: Sendable {
        private let box = NIOLockedValueBox(false)
        func set() { box.withLockedValue { $0 = true } }
        var isSet: Bool { box.withLockedValue { $0 } }
    }

    let name: String
    let host: String
    let port: Int
    let service: any Service
    let running: RunningFlag

    func run() async throws {
        do {
            try await service.run()
        } catch {
            if running.isSet { throw error }
            throw ListenerBindError(listener: name, host: host, port: port, underlying: error)
        }
    }
}
