import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import RTMPCore
import ServiceLifecycle

/// The RTMP listener, run as a `Service`. Each connection lives on one event loop and never
/// waits for another; authorization runs as a task off the loop.
public final class RTMPServer: Service, Sendable {
    public let configuration: RTMPServerConfiguration
    private let dependencies: RTMPConnectionHandler.Dependencies
    private let group: any EventLoopGroup
    private let boundChannel = NIOLockedValueBox<(any Channel)?>(nil)
    private let boundTLSChannel = NIOLockedValueBox<(any Channel)?>(nil)
    private let nextConnectionID = NIOLockedValueBox<UInt64>(0)
    private let started = NIOLockedValueBox<[CheckedContinuation<Int, any Error>]>([])
    private let children = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
    public let limiter: ConnectionLimiter
    public let throttle: PublishThrottle
    /// How long this listener's publish decisions took (`livegate_publish_decision_seconds`).
    public let decisionTimes: PublishDecisionTimes

    public init(
        configuration: RTMPServerConfiguration,
        authorizer: any IngestAuthorizer,
        sink: any IngestEventSink = NullIngestEventSink(),
        logger: Logger = Logger(label: "livegate.rtmp"),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.group = group
        self.limiter = ConnectionLimiter(maxConnections: configuration.maxConnections, maxPerIP: configuration.maxConnectionsPerIP)
        self.throttle = PublishThrottle(maxFailuresPerMinute: configuration.failedPublishesPerMinute)
        let decisionTimes = PublishDecisionTimes()
        self.decisionTimes = decisionTimes
        self.dependencies = .init(configuration: configuration, authorizer: authorizer, sink: sink,
                                  limiter: limiter, throttle: throttle, logger: logger, ports: BoundPorts(), decisionTimes: decisionTimes)
    }

    /// The port actually bound (useful with port 0). Waits until `run()` has bound.
    public func waitUntilListening() async throws -> Int {
        if let port = boundChannel.withLockedValue({ $0?.localAddress?.port }) { return port }
        return try await withCheckedThrowingContinuation { continuation in
            let port: Int? = boundChannel.withLockedValue { channel in
                if let port = channel?.localAddress?.port { return port }
                started.withLockedValue { $0.append(continuation) }
                return nil
            }
            if let port { continuation.resume(returning: port) }
        }
    }

    public var connectionCount: Int { limiter.currentConnections }

    /// The RTMPS port actually bound, once listening (nil when TLS is off).
    public var tlsPort: Int? { boundTLSChannel.withLockedValue { $0?.localAddress?.port } }

    public struct TLSSetupError: Error, CustomStringConvertible {
        public var description: String
    }

    /// A server TLS configuration from PEM files (RTMPS here, HTTPS for the API in the app);
    /// a bad file stops start-up with the path and the reason.
    public static func tlsConfiguration(certificate: String, key: String) throws -> TLSConfiguration {
        do {
            return try TLSFiles(certificatePath: certificate, keyPath: key).serverConfiguration()
        } catch {
            throw TLSSetupError(description: error.reason)
        }
    }

    static func makeTLSContext(certificate: String, key: String) throws -> NIOSSLContext {
        do {
            return try TLSFiles(certificatePath: certificate, keyPath: key).makeContext()
        } catch {
            throw TLSSetupError(description: "RTMPS: \(error.reason)")
        }
    }

    public func run() async throws {
        var withTimers = dependencies
        withTimers.mergedReads = MergedReadTimers(group: group, delay: .milliseconds(Int64(configuration.mergeReadsMilliseconds)))
        let deps = withTimers
        let counter = nextConnectionID
        let proxyMode = configuration.proxyProtocol, trustedProxies = configuration.trustedProxies
        let handshakeTimeout = configuration.handshakeTimeoutSeconds
        let children = self.children
        let tlsContext = configuration.tlsEnabled
            ? try Self.makeTLSContext(certificate: configuration.tlsCertificatePath ?? "", key: configuration.tlsKeyPath ?? "") : nil
        func bootstrap(tls: NIOSSLContext?) -> ServerBootstrap {
            ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                // TCP_NODELAY is a TCP-level option: `.socketOption(.tcp_nodelay)` would be
                // setsockopt(SOL_SOCKET, 1) = SO_DEBUG, which only root may set (every accept
                // failed as an unprivileged user) and which never turned Nagle off.
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelOption(.maxMessagesPerRead, value: ReceivePoolTrim.maxMessagesPerRead)
                // Reads start under the read-size floor, not NIO's 64 KiB ceiling; a fast stream's
                // ceiling is raised once its rate is measured (`ReadSizePolicy`).
                .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: ReadSizePolicy.floor))
                .childChannelInitializer { channel in
                    let id = counter.withLockedValue { $0 += 1; return $0 }
                    let key = ObjectIdentifier(channel)
                    children.withLockedValue { $0[key] = channel }
                    channel.closeFuture.whenComplete { _ in _ = children.withLockedValue { $0.removeValue(forKey: key) } }
                    return channel.eventLoop.makeCompletedFuture {
                        // A balancer's PROXY header comes before anything else, TLS included.
                        if proxyMode != .off {
                            try channel.pipeline.syncOperations.addHandler(ProxyProtocolHandler(
                                mode: proxyMode, trusted: trustedProxies, timeout: .milliseconds(Int64(handshakeTimeout * 1000)), logger: deps.logger))
                        }
                        // RTMPS is RTMP inside TLS: the same handler sees plaintext bytes.
                        if let tls {
                            try channel.pipeline.syncOperations.addHandler(PlainOnTLSPortDetector(logger: deps.logger, ports: deps.ports))
                            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                        }
                        try channel.pipeline.syncOperations.addHandler(RTMPConnectionHandler(connectionID: id, dependencies: deps, secure: tls != nil))
                    }
                }
        }
        let channel: any Channel
        do {
            channel = try await bootstrap(tls: nil).bind(host: configuration.host, port: configuration.port).get()
        } catch {
            throw ListenerBindError(listener: "RTMP", host: configuration.host, port: configuration.port, underlying: error)
        }
        var boundTLS: (any Channel)?
        if let tlsContext {
            do {
                boundTLS = try await bootstrap(tls: tlsContext).bind(host: configuration.host, port: configuration.tlsPort).get()
            } catch {
                try? await channel.close()
                throw ListenerBindError(listener: "RTMPS", host: configuration.host, port: configuration.tlsPort, underlying: error)
            }
            boundTLSChannel.withLockedValue { $0 = boundTLS }
            dependencies.logger.info("RTMPS listener started", metadata: ["address": "\(configuration.host):\(boundTLS?.localAddress?.port ?? 0)"])
        }
        let tlsChannel = boundTLS
        let port = channel.localAddress?.port ?? configuration.port
        dependencies.ports.set(plain: port, tls: tlsChannel?.localAddress?.port)
        boundChannel.withLockedValue { $0 = channel }
        let waiters = started.withLockedValue { w in defer { w.removeAll() }; return w }
        for waiter in waiters { waiter.resume(returning: port) }
        dependencies.logger.info("RTMP listener started", metadata: ["address": "\(configuration.host):\(port)"])

        // Cancellation (tests, parent task) and SIGTERM both stop the listener.
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await channel.closeFuture.get()
            try await tlsChannel?.closeFuture.get()
        } onCancelOrGracefulShutdown: {
            channel.close(promise: nil)
            tlsChannel?.close(promise: nil)
        }
        // Stop accepting first, then end every connection (publishers see reason `shutdown`).
        let open = children.withLockedValue { Array($0.values) }
        for child in open {
            child.pipeline.fireUserInboundEventTriggered(KickEvent(status: .error(.unpublishSuccess, "server shutting down"), reason: .shutdown))
        }
        for child in open { try? await child.closeFuture.get() }
        dependencies.logger.info("RTMP listener stopped")
    }

    /// The read ceiling (`ReadSizePolicy`) in force on each open connection: what a test reads
    /// to see that a fast stream's reads grew and a slow one's did not.
    func readCeilings() async -> [Int] {
        var out: [Int] = []
        for child in children.withLockedValue({ Array($0.values) }) {
            if let allocator = try? await child.getOption(ChannelOptions.recvAllocator) as? AdaptiveRecvByteBufferAllocator {
                out.append(allocator.maximum)
            }
        }
        return out
    }
}
