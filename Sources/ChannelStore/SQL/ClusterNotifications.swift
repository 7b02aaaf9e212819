import LiveGateModel
import Foundation
import Logging
import NIOCore
import PostgresKit

/// The receiving end of `ClusterMessage`s (issue #14 item 5): one dedicated PostgreSQL
/// connection that `LISTEN`s on `SQLChannelStore.notifyChannel` — outside the store's pool,
/// whose connections are handed out per query and would drop a listener. Reconnects with a
/// backoff when the connection drops (a PostgreSQL restart); messages sent meanwhile are lost,
/// which `onConnected` lets the caller make up for (a resync).
public enum ClusterNotifications {
    /// Listens until the task is cancelled. `onConnected` runs each time listening (re)starts.
    public static func listen(url: String, logger: Logger, onConnected: @escaping @Sendable () async -> Void,
                              onMessage: @escaping @Sendable (ClusterMessage) async -> Void) async {
        let configuration: PostgresConnection.Configuration
        do {
            configuration = try SQLPostgresConfiguration(url: url).coreConfiguration
        } catch {
            logger.error("cannot listen for other nodes: the database URL is not usable", metadata: ["error": "\(error)"])
            return
        }
        var quiet = logger
        quiet.logLevel = .critical
        var failing = false
        var delay = Duration.milliseconds(250)
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(configuration: configuration, id: 7_347_003, logger: quiet)
                do {
                    try await connection.listen(on: SQLChannelStore.notifyChannel) { notifications in
                        if failing { logger.notice("listening for other nodes again") }
                        failing = false
                        delay = .milliseconds(250)
                        await onConnected()
                        for try await notification in notifications {
                            guard let message = ClusterMessage(payload: notification.payload) else { continue }
                            await onMessage(message)
                        }
                    }
                } catch {
                    try? await connection.close()
                    throw error
                }
                try? await connection.close()
            } catch {
                if Task.isCancelled { return }
                if !failing { logger.warning("not listening for other nodes; retrying", metadata: ["error": "\(StoreFactory.describe(error))"]) }
                failing = true
            }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(2))
        }
    }
}
