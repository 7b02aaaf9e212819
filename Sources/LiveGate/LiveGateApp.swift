import Logging
import RTMPCore
import RTMPServer
import ServiceLifecycle

/// Composes LiveGate's services into one `ServiceGroup` that shuts down in reverse order on
/// SIGTERM/SIGINT. Until the channel store is wired (issue #4), the RTMP listener refuses
/// every stream key: an unconfigured gateway must never accept anonymous streams.
public struct LiveGateApp {
    public static let version = "0.1.0"

    public let configuration: LiveGateConfiguration
    public let logger: Logger

    public init(configuration: LiveGateConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        let rtmp = RTMPServer(configuration: configuration.rtmp, authorizer: RefuseAllAuthorizer(),
                              logger: Logger(label: "livegate.rtmp"))
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: rtmp)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        logger.info("LiveGate starting", metadata: ["version": "\(Self.version)", "rtmp.port": "\(configuration.rtmp.port)"])
        try await group.run()
        logger.info("LiveGate stopped")
    }
}
