import LiveGateModel
import ChannelStore
import ControlAPI
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOConcurrencyHelpers
import MediaPipeline
import NIOSSL
import RTMPCore
import RTMPServer
import ServiceLifecycle
import UnixSignals
import Webhooks

/// Composes LiveGate's services into one `ServiceGroup` that shuts down in reverse order on
/// SIGTERM/SIGINT: the store opens first (migrations run before anything listens), then the
/// RTMP listener and the HTTP API start. Publishes are decided by `IngestCoordinator` against the
/// channel records: a gateway with no channels accepts no stream.
public struct LiveGateApp: Sendable {
    public static let version = "0.2.0"

    /// The configuration, typed and read once (`GatewaySettings`).
    public let settings: GatewaySettings
    public let logger: Logger
    /// How the 10 s after SIGTERM are spent (the watchdog in `main` uses the same budget).
    public let shutdownBudget: ShutdownBudget
    /// Set when the stop begins: `/readyz/ingest` answers 503 `draining` from then on.
    let draining = NIOLockedValueBox(false)

    public init(configuration: LiveGateConfiguration, logger: Logger, shutdownBudget: ShutdownBudget = .init()) {
        self.init(settings: GatewaySettings(configuration), logger: logger, shutdownBudget: shutdownBudget)
    }

    public init(settings: GatewaySettings, logger: Logger, shutdownBudget: ShutdownBudget = .init()) {
        self.settings = settings
        self.logger = logger
        self.shutdownBudget = shutdownBudget
    }

    /// A failure that stops start-up, with the exit code `serve` uses: 78 (EX_CONFIG) when the
    /// configuration must change, 1 otherwise.
    public struct StartupError: Error, CustomStringConvertible {
        public var description: String
        public var exitCode: Int32
    }

    /// Runs until SIGTERM/SIGINT.
    public func run() async throws {
        let group = try buildApplication()
        logger.info("LiveGate starting", metadata: ["version": "\(Self.version)", "rtmp.port": "\(settings.rtmp.port)",
                                                    "http.port": "\(settings.http.port)"])
        try await group.run()
        logger.info("LiveGate stopped")
    }

    /// The one composition seam (as Hummingbird's application template has it): the whole
    /// gateway as a `ServiceGroup`, ready to run. The HTTP listener comes up first, behind a
    /// `StartupGate` (`/healthz` 200, `/readyz` 503) while the store opens — PostgreSQL may need
    /// a while — then the rest starts (`GatewayCore`) and the gate opens onto the API. `serve`
    /// runs it on SIGTERM/SIGINT; a test runs it in-process with no signals and stops it with
    /// `triggerGracefulShutdown()`.
    public func buildApplication(gracefulShutdownSignals: [UnixSignal] = [.sigterm, .sigint]) throws -> ServiceGroup {
        let dataDir = settings.dataDir
        let identity: NodeIdentity
        do {
            identity = try NodeIdentity.resolve(configured: settings.nodeId, dataDirectory: dataDir)
        } catch {
            throw StartupError(description: "dataDir: \(error)", exitCode: 78)
        }
        LogContext.nodeId = identity.id
        logger.info("node identity", metadata: ["node.id": "\(identity.id)",
                                                "node.id.source": "\(settings.nodeId.isEmpty ? "\(dataDir)/\(NodeIdentity.fileName)" : "nodeId")"])
        let gate = StartupGate<APIRequestContext>(nodeId: identity.id)
        let http = try makeHTTPListener(gate: gate)
        let core = GatewayCore(app: self, identity: identity, gate: gate)
        var groupConfiguration = ServiceGroupConfiguration(
            // Stopped in reverse: the core first (it drains: `/readyz/ingest` answers 503
            // `draining` while RTMP stops and sessions are handed over), the HTTP listener last,
            // so balancers see the drain. A core that cannot start (store unreachable) stops the
            // HTTP listener gracefully.
            services: [.init(service: http, failureTerminationBehavior: .gracefullyShutdownGroup),
                       // The core returning (a drain through the API finished) stops the process too.
                       .init(service: core, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: gracefulShutdownSignals, logger: logger)
        // Past the budget what is still stopping is cancelled (pending ends are kept on disk);
        // the watchdog's logged exit follows if even that hangs. Never a fatalError.
        groupConfiguration.maximumGracefulShutdownDuration = .milliseconds(Int64(shutdownBudget.graceful * 1000))
        return ServiceGroup(configuration: groupConfiguration)
    }

    /// The HTTP listener (API, HLS, metrics): HTTPS when a certificate and key are configured.
    func makeHTTPListener(gate: StartupGate<APIRequestContext>) throws -> NamedListener {
        let certificate = settings.http.tlsCertificate, key = settings.http.tlsKey
        let server: HTTPServerBuilder
        if certificate.isEmpty && key.isEmpty {
            server = .http1()
        } else {
            let tls: TLSConfiguration
            do {
                tls = try TLSFiles(certificatePath: certificate, keyPath: key).serverConfiguration()
            } catch {
                throw StartupError(description: "\(settings.http.tlsKeySource): http.tls: \(error.reason)", exitCode: 78)
            }
            server = try .tls(.http1(), tlsConfiguration: tls)
        }
        let host = settings.http.host, port = settings.http.port
        let running = NamedListener.RunningFlag()
        let application = Application(responder: gate, server: server,
                                      configuration: .init(address: .hostname(host, port: port), serverName: "LiveGate"),
                                      onServerRunning: { _ in running.set() }, logger: Logger(label: "livegate.http"))
        return NamedListener(name: "HTTP", host: host, port: port, service: application, running: running)
    }

    /// Opens the configured store. PostgreSQL that cannot be reached is retried with backoff for
    /// `database.connectTimeoutSec`, one log line per attempt; a server that answers and refuses
    /// (wrong password, no such database) stops at once.
    func openStore(gate: StartupGate<APIRequestContext>) async throws -> SQLChannelStore {
        let url = settings.database.url, dataDir = settings.dataDir
        let storeLogger = Logger(label: "livegate.store")
        guard settings.database.isPostgres else {
            do {
                return try await StoreFactory.open(url: url, dataDir: dataDir, logger: storeLogger)
            } catch let collision as SQLChannelStore.UserIdCollision {
                throw StartupError(description: "\(collision)", exitCode: 78)
            } catch {
                throw StartupError(description: "cannot open the store: \(StoreFactory.describe(error))", exitCode: 1)
            }
        }
        let limit = settings.database.connectTimeout
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(Int(limit * 1000))
        var delay = Duration.milliseconds(500)
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await StoreFactory.open(url: url, dataDir: dataDir, logger: storeLogger)
            } catch let collision as SQLChannelStore.UserIdCollision {
                throw StartupError(description: "\(collision)", exitCode: 78)
            } catch {
                let cause = StoreFactory.describe(error)
                if StoreFactory.isPermanent(error) {
                    throw StartupError(description: "database.url: PostgreSQL refused: \(cause)", exitCode: 78)
                }
                if clock.now + delay > deadline {
                    throw StartupError(description: "PostgreSQL not reachable after \(attempt) attempts in \(Int(limit)) s (database.connectTimeoutSec): \(cause)",
                                       exitCode: 1)
                }
                let seconds = Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18
                logger.warning("PostgreSQL not reachable; retrying", metadata: [
                    "attempt": "\(attempt)", "retry.in.sec": "\(seconds)", "error": "\(cause)"])
                gate.setWaitingReason("starting: PostgreSQL not reachable yet (attempt \(attempt)): \(cause)")
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    /// Builds the parts that need the store and runs them; called by `GatewayCore`.
    func runCore(identity: NodeIdentity, gate: StartupGate<APIRequestContext>) async throws {
        let store = try await openStore(gate: gate)
        logger.info("store opened", metadata: ["backend": "\(store.backendName)"])
        do {
            try await refuseSharedSQLite(store, nodeId: identity.id)
            try await bootstrapToken(store)
            let nodeId = identity.id
            var rtmpConfig = settings.rtmp
            // The cluster's key (cluster.secret, else the one the database made) signs what
            // nodes hand each other: internal file requests, and reconnect tokens.
            let configuredSecret = settings.clusterSecret
            let secret = configuredSecret.isEmpty ? ((try? await store.clusterSecret()) ?? nil) : configuredSecret
            rtmpConfig.sendsReconnectRequest = secret != nil
            // The outbound guard: webhook receivers and push targets resolved when reached, every
            // address checked (`webhooks.blockPrivateNetworks`, `forwards.blockPrivateNetworks`).
            let hostsFile = settings.hostsFile
            let resolver: any HostResolver = hostsFile.isEmpty ? SystemHostResolver() : try HostsFileResolver(path: hostsFile)
            let webhookGuard = OutboundGuard(blockPrivateNetworks: settings.webhooks.blockPrivateNetworks, resolver: resolver)
            let forwardGuard = OutboundGuard(blockPrivateNetworks: settings.blockPrivateForwards, resolver: resolver)
            let transport: any WebhookTransport = webhookGuard.blockPrivateNetworks || !hostsFile.isEmpty
                ? GuardedWebhookTransport(AsyncHTTPClientTransport(), guard: webhookGuard) : AsyncHTTPClientTransport()
            let dispatcher = WebhookDispatcher(store: store, transport: transport,
                                               perWebhook: settings.webhooks.maxInFlightPerWebhook, overall: settings.webhooks.maxInFlight,
                                               disableAfter: settings.webhooks.disableAfter,
                                               nodeId: nodeId, logger: Logger(label: "livegate.webhooks"))
            var media = settings.media
            media.hlsNodeTag = NodeTag.of(nodeId)
            media.recordingsDirectoryOverride = settings.recordingsDirectory(nodeId: nodeId)
            if forwardGuard.blockPrivateNetworks {
                media.forwardHostCheck = { host in
                    do { _ = try forwardGuard.check(host: host); return nil } catch { return "\(error)" }
                }
            }
            var timing = SQLChannelStore.LeaseTiming()
            timing.timeToLive = settings.leaseTimeToLive
            timing.renewInterval = SessionLease.renewInterval(timeToLive: settings.leaseTimeToLive)
            // Several nodes: lease times on the database's clock, so no node's skew decides.
            timing.databaseClock = store.backend == .postgres
            store.leaseTiming = timing
            let coordinator = IngestCoordinator(store: store, nodeId: nodeId, dispatcher: dispatcher, media: media, lifecycle: settings.lifecycle,
                                                pendingEndsPath: settings.dataDir + "/pending-ends.json", shutdownBudget: shutdownBudget,
                                                leaseTimeToLive: settings.leaseTimeToLive, logger: Logger(label: "livegate.ingest"))
            try await coordinator.recoverOpenSessions(previousNodeIds: identity.previousIds)
            let rtmp = RTMPServer(configuration: rtmpConfig, authorizer: coordinator, sink: coordinator, logger: Logger(label: "livegate.rtmp"))
            await coordinator.setConnectionCounter { rtmp.connectionCount }
            await coordinator.setPublishDecisionTimes(rtmp.decisionTimes)
            let sessions = ClusterSessionControl(local: coordinator, store: store, nodeId: nodeId, logger: Logger(label: "livegate.cluster"))
            let httpProxies = settings.http.trustedProxies
            var apiConfiguration = ControlAPIConfiguration(
                version: Self.version, nodeId: nodeId, publicHost: settings.publicHost,
                rtmpPort: rtmpConfig.port, httpPort: settings.http.port, rtmpApp: settings.rtmpApp,
                authFailuresPerMinute: settings.api.authFailuresPerMinute,
                blockPrivateNetworks: webhookGuard.blockPrivateNetworks, blockPrivateForwards: forwardGuard.blockPrivateNetworks,
                hlsDirectory: media.hlsDirectory, trustedProxy: { [httpProxies] peer in httpProxies.contains { $0.contains(peer) } })
            apiConfiguration.webhookSecretOverlap = settings.webhooks.secretOverlap
            apiConfiguration.publicHttpUrlSetting = settings.publicHttpUrl
            apiConfiguration.publicRtmpUrlSetting = settings.publicRtmpUrl
            let draining = self.draining
            apiConfiguration.ingestUnavailable = { draining.withLockedValue { $0 } ? "draining: this node takes no new publishes" : nil }
            apiConfiguration.retentionDays = settings.retentionDays
            apiConfiguration.eventStreams.maxStreams = settings.eventStreams.maxStreams
            apiConfiguration.eventStreams.maxBufferedBytes = settings.eventStreams.maxBufferedBytes
            let throttle = rtmp.throttle
            apiConfiguration.failedPublishes = FailedPublishGate(isThrottled: { throttle.isThrottled(ip: $0) }, failed: { throttle.recordFailure(ip: $0) })
            // Files other nodes hold are fetched from them, signed with the cluster's key.
            await coordinator.setHealth(rules: settings.healthRules, historyChannels: settings.historyChannels)
            await coordinator.setThumbnails(intervalSec: settings.thumbnails.intervalSec, maxDecodesPerSec: settings.thumbnails.maxDecodesPerSec)
            if let secret { await coordinator.setReconnect(secret: secret, tcUrl: settings.reconnectTcUrl.isEmpty ? nil : settings.reconnectTcUrl) }
            let peers = secret.map { PeerRelay(settings: .init(nodeId: nodeId, secret: $0), store: store, logger: Logger(label: "livegate.cluster")) }
            apiConfiguration.peers = peers
            if let peers { await coordinator.setNodeProbe { await peers.isAlive(nodeId: $0) } }
            apiConfiguration.nodeGoneAfter = settings.nodeGoneAfter
            // The drain (docs/contract.md §6): no new publishes (`/readyz/ingest` 503, a publish
            // refused with Publish.Rejected), the publishers kept until they leave or the wait
            // is over — so balancers see the drain before they reconnect — then the stop, which
            // hands the sessions over. Through the API the wait is `shutdown.drainSec`; after a
            // SIGTERM, what the 10 s promise leaves of it.
            let stopping = NIOLockedValueBox<ServiceGroup?>(nil)
            let drainSec = settings.drainSec
            let budget = shutdownBudget
            let drainDeadline = NIOLockedValueBox<Date?>(nil)
            let drain: @Sendable (TimeInterval, String) async -> Date = { [logger, draining] wait, why in
                draining.withLockedValue { $0 = true }
                await coordinator.startDraining()
                // The first call sets the deadline; a later one (a SIGTERM during an API drain) keeps it.
                let (deadline, first) = drainDeadline.withLockedValue { known -> (Date, Bool) in
                    let asked = Date().addingTimeInterval(wait)
                    if let earlier = known {
                        known = min(earlier, asked) // a SIGTERM during an API drain keeps its own promise
                        return (min(earlier, asked), false)
                    }
                    known = asked
                    return (asked, true)
                }
                guard first else { return deadline }
                let publishers = await coordinator.publisherCount
                logger.notice("draining", metadata: ["why": "\(why)", "wait.sec": "\(String(format: "%.1f", wait))", "publishers": "\(publishers)"])
                Task {
                    while let until = drainDeadline.withLockedValue({ $0 }), Date() < until, await coordinator.publisherCount > 0 {
                        try? await Task.sleep(for: .milliseconds(100))
                    }
                    await stopping.withLockedValue { $0 }?.triggerGracefulShutdown()
                }
                return deadline
            }
            apiConfiguration.drain = {
                let deadline = await drain(drainSec, "POST /v1/system/drain")
                return (await coordinator.publisherCount, deadline)
            }
            apiConfiguration.leaseTimeToLive = settings.leaseTimeToLive
            let fileDeletions = FileDeletions(store: store, nodeId: nodeId, logger: Logger(label: "livegate.recordings"))
            let api = ControlAPI(store: store, sessions: sessions, dispatcher: dispatcher, metrics: coordinator, configuration: apiConfiguration)
            gate.open(api.makeRouter().buildResponder())
            let publicHost = settings.publicHost
            let heartbeat = NodeHeartbeat(store: store, node: NodeRecord(
                id: nodeId, addresses: ["rtmp://\(publicHost):\(rtmpConfig.port)", "http://\(publicHost):\(settings.http.port)"],
                version: Self.version, startedAt: Date(), heartbeatAt: Date(), advertiseUrl: settings.advertiseUrl),
                dispatcher: dispatcher, logger: Logger(label: "livegate.node"))
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: heartbeat), .init(service: fileDeletions),
                                                                               .init(service: MemoryTrimmer(logger: Logger(label: "livegate.memory")))]
            services.append(.init(service: RecordingRetention(store: store, nodeId: nodeId, defaultDays: settings.retentionDays.map(Double.init),
                                                              dispatcher: dispatcher, interval: .seconds(3600), logger: Logger(label: "livegate.recordings"))))
            if store.backend == .postgres {
                services.append(.init(service: ClusterListener(url: settings.database.url, coordinator: coordinator, nodeId: nodeId,
                                                               logger: Logger(label: "livegate.cluster"))))
            }
            let group = ServiceGroup(configuration: .init(
                // Stopped in reverse: RTMP (publishers end with `shutdown`), then the coordinator
                // (writes their offline events), then the dispatcher.
                services: services + [.init(service: dispatcher), .init(service: coordinator), .init(service: rtmp)],
                logger: logger))
            stopping.withLockedValue { $0 = group }
            do {
                try await withGracefulShutdownHandler {
                    try await group.run()
                } onGracefulShutdown: {
                    // From now on /readyz/ingest fails: balancers send new publishers elsewhere.
                    // The wait is what the budget leaves after the stop's own steps.
                    let reserve = budget.settleWrites + budget.drainOutputs + budget.closeStore
                    Task { _ = await drain(max(0, min(drainSec, budget.graceful - reserve)), "signal") }
                }
            } catch {
                await peers?.shutdown()
                throw error
            }
            await peers?.shutdown()
        } catch {
            await store.close()
            throw error
        }
        logger.info("services stopped; closing the store")
        let closeWithin = shutdownBudget.closeStore
        if await Self.close(store, within: .milliseconds(Int64(closeWithin * 1000))) {
            logger.info("store closed")
        } else {
            logger.error("the store did not close in time; stopping without waiting for it", metadata: ["budget.sec": "\(closeWithin)"])
        }
    }

    /// SQLite is single-node (docs/contract.md §7): a second node started on the same database file (a
    /// shared volume, a copied config) would split "who is live" between two processes without
    /// leases that hold across them. If another node's heartbeat in this file is fresh, refuse.
    func refuseSharedSQLite(_ store: SQLChannelStore, nodeId: String) async throws {
        guard store.backend == .sqlite else { return }
        let now = Date()
        if let other = try await store.nodes().first(where: { $0.id != nodeId && $0.isHealthy(at: now) }) {
            throw StartupError(description: """
                SQLite is single-node: node \(other.id) wrote its heartbeat to this database \(Int(now.timeIntervalSince(other.heartbeatAt))) s ago. \
                Several nodes need PostgreSQL (database.url: postgres://…); one node per SQLite file.
                """, exitCode: 78)
        }
        logger.info("store is SQLite: this node runs alone (several nodes need PostgreSQL)")
    }

    /// Closes the store, waiting at most `limit`: a connection pool that never finishes its
    /// shutdown (suspected in a hang seen once during a PostgreSQL outage at SIGTERM) must not
    /// keep the process alive. The close runs in a task of its own so the wait can end without it.
    static func close(_ store: any ChannelStore, within limit: Duration) async -> Bool {
        let resumed = NIOLockedValueBox(false)
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let finish: @Sendable (Bool) -> Void = { closed in
                let first = resumed.withLockedValue { done in
                    defer { done = true }
                    return !done
                }
                if first { continuation.resume(returning: closed) }
            }
            Task { await store.close(); finish(true) }
            Task { try? await Task.sleep(for: limit); finish(false) }
        }
    }

    /// Configured credentials are (re)stored hashed on every start. With none configured and
    /// none stored, a pair is generated and printed once: it cannot be shown again.
    func bootstrapToken(_ store: any ChannelStore) async throws {
        let id = settings.api.tokenId, secret = settings.api.tokenSecret
        if !id.isEmpty && !secret.isEmpty {
            try await store.saveToken(APIToken(id: id, secretHash: APITokens.hash(secret), scopes: ["admin"], origin: .configured, createdAt: Date()))
            logger.info("API token configured", metadata: ["token.id": "\(id)"])
            // Configured credentials take over: a generated token (or one stored before tokens
            // had an origin) stops working.
            var revoked = try await store.deleteTokens(origin: .generated, keeping: id)
            revoked += try await store.deleteTokens(origin: .legacy, keeping: id)
            if !revoked.isEmpty {
                logger.notice("revoked the tokens the configured credentials replace", metadata: ["token.ids": "\(revoked.joined(separator: ","))"])
            }
        } else if try await store.tokenCount() == 0 {
            let newID = Identifiers.make("tok"), newSecret = Identifiers.tokenSecret()
            try await store.saveToken(APIToken(id: newID, secretHash: APITokens.hash(newSecret), scopes: ["admin"], origin: .generated, createdAt: Date()))
            logger.notice("generated an API token; it is shown only now: store it (LIVE_TOKEN_ID / LIVE_TOKEN_SECRET)",
                          metadata: ["LIVE_TOKEN_ID": "\(newID)", "LIVE_TOKEN_SECRET": "\(newSecret)"])
        }
    }
}
