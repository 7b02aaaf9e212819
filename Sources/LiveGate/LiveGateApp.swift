import ChannelStore
import ControlAPI
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import MediaPipeline
import RTMPCore
import RTMPServer
import ServiceLifecycle
import Webhooks

/// Composes LiveGate's services into one `ServiceGroup` that shuts down in reverse order on
/// SIGTERM/SIGINT: the store opens first (migrations run before anything listens), then the
/// RTMP listener and the HTTP API start. Publishes are decided by `IngestCoordinator` against the
/// channel records: a gateway with no channels accepts no stream.
public struct LiveGateApp {
    public static let version = "0.2.0"

    public let configuration: LiveGateConfiguration
    public let logger: Logger

    public init(configuration: LiveGateConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        let dataDir = configuration.string("dataDir")
        let store = try await StoreFactory.open(url: configuration.string("database.url"), dataDir: dataDir,
                                                logger: Logger(label: "livegate.store"))
        logger.info("store opened", metadata: ["backend": "\(store.backendName)"])
        do {
            try await bootstrapToken(store)
            let rtmpConfig = configuration.rtmp
            let dispatcher = WebhookDispatcher(store: store, transport: AsyncHTTPClientTransport(), logger: Logger(label: "livegate.webhooks"))
            var media = MediaHub.Settings(dataDirectory: dataDir)
            media.hlsSegmentSeconds = configuration.double("hls.segmentSec")
            media.hlsListSize = configuration.int("hls.listSize")
            media.queueMaxPackets = configuration.int("outputs.queueMaxPackets")
            media.queueMaxBytes = configuration.int("outputs.queueMaxMB") << 20
            media.forwardTimeoutSeconds = configuration.double("forwards.timeoutSec")
            media.forwardFailureThreshold = configuration.int("forwards.failureThreshold")
            media.forwardTLSVerify = configuration.bool("forwards.tlsVerify")
            media.forwardTLSCAFile = configuration.string("forwards.tlsCaFile")
            let coordinator = IngestCoordinator(store: store, nodeId: nodeId, dispatcher: dispatcher, media: media,
                                                logger: Logger(label: "livegate.ingest"))
            try await coordinator.recoverOpenSessions()
            let rtmp = RTMPServer(configuration: rtmpConfig, authorizer: coordinator, sink: coordinator, logger: Logger(label: "livegate.rtmp"))
            await coordinator.setConnectionCounter { rtmp.connectionCount }
            let api = ControlAPI(store: store, sessions: coordinator, dispatcher: dispatcher, metrics: coordinator, configuration: ControlAPIConfiguration(
                version: Self.version, nodeId: nodeId, publicHost: configuration.string("publicHost"),
                rtmpPort: rtmpConfig.port, httpPort: configuration.int("http.port"), rtmpApp: configuration.string("rtmp.app"),
                authFailuresPerMinute: configuration.int("api.authFailuresPerMinute"),
                blockPrivateNetworks: configuration.bool("webhooks.blockPrivateNetworks"), hlsDirectory: media.hlsDirectory))
            // HTTPS for the API when a certificate and key are configured (same port).
            let certificate = configuration.string("http.tlsCertificate"), key = configuration.string("http.tlsKey")
            let server: HTTPServerBuilder = certificate.isEmpty || key.isEmpty
                ? .http1() : try .tls(.http1(), tlsConfiguration: RTMPServer.tlsConfiguration(certificate: certificate, key: key))
            let http = Application(router: api.makeRouter(), server: server, configuration: .init(
                address: .hostname(configuration.string("http.host"), port: configuration.int("http.port")), serverName: "LiveGate"),
                logger: Logger(label: "livegate.http"))
            let group = ServiceGroup(configuration: .init(
                // Stopped in reverse: HTTP, then RTMP (publishers end with `shutdown`), then the
                // coordinator (writes their offline events), then the dispatcher.
                services: [.init(service: dispatcher), .init(service: coordinator), .init(service: rtmp), .init(service: http)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            logger.info("LiveGate starting", metadata: ["version": "\(Self.version)", "rtmp.port": "\(rtmpConfig.port)",
                                                        "http.port": "\(configuration.int("http.port"))"])
            try await group.run()
        } catch {
            await store.close()
            throw error
        }
        await store.close()
        logger.info("LiveGate stopped")
    }

    var nodeId: String {
        let configured = configuration.string("nodeId")
        return configured.isEmpty ? ProcessInfo.processInfo.hostName : configured
    }

    /// Configured credentials are (re)stored hashed on every start. With none configured and
    /// none stored, a pair is generated and printed once: it cannot be shown again.
    func bootstrapToken(_ store: any ChannelStore) async throws {
        let id = configuration.string("api.tokenId"), secret = configuration.string("api.tokenSecret")
        if !id.isEmpty && !secret.isEmpty {
            try await store.saveToken(id: id, secretHash: APITokens.hash(secret))
            logger.info("API token configured", metadata: ["token.id": "\(id)"])
        } else if try await store.tokenCount() == 0 {
            let newID = Identifiers.make("tok"), newSecret = Identifiers.tokenSecret()
            try await store.saveToken(id: newID, secretHash: APITokens.hash(newSecret))
            logger.notice("generated an API token; it is shown only now: store it (LIVE_TOKEN_ID / LIVE_TOKEN_SECRET)",
                          metadata: ["LIVE_TOKEN_ID": "\(newID)", "LIVE_TOKEN_SECRET": "\(newSecret)"])
        }
    }
}
