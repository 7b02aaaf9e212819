import RTMPCore

/// Everything the listener needs, built by the app from `rtmp.*` / `ingest.*` config keys.
public struct RTMPServerConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port (tests); read the bound one from `RTMPServer.localPort`.
    public var port: Int
    public var limits: RTMPLimits
    public var allowedApps: Set<String>
    public var outboundChunkSize: Int
    /// `rtmp.handshakeTimeoutSec`: C0+C1 and C2 must arrive within this.
    public var handshakeTimeoutSeconds: Double
    /// `ingest.mediaTimeoutSec`: a publisher silent this long is dropped (reason `media_timeout`);
    /// a connection that never publishes is dropped after the same time without any bytes.
    public var mediaTimeoutSeconds: Double
    /// `rtmp.maxConnections` across the server.
    public var maxConnections: Int
    /// `rtmp.maxConnectionsPerIP`; 0 = unlimited.
    public var maxConnectionsPerIP: Int
    /// `rtmp.failedPublishesPerMinute`; past it an IP's publishes are refused for 60 s without a lookup. 0 = off.
    public var failedPublishesPerMinute: Int
    /// RTMPS listener (`rtmp.tlsPort`, default 1936): on only when both PEM paths are set.
    public var tlsPort: Int = 1936
    /// `rtmp.tlsCertificate`: PEM certificate chain.
    public var tlsCertificatePath: String?
    /// `rtmp.tlsKey`: PEM private key.
    public var tlsKeyPath: String?

    /// `rtmp.proxyProtocol` and `rtmp.trustedProxies`: PROXY headers read from these peers only.
    public var proxyProtocol: ProxyProtocolMode = .off
    public var trustedProxies: [CIDRBlock] = []

    public var tlsEnabled: Bool { !(tlsCertificatePath ?? "").isEmpty && !(tlsKeyPath ?? "").isEmpty }

    public init(
        host: String = "0.0.0.0",
        port: Int = 1935,
        limits: RTMPLimits = .default,
        allowedApps: Set<String> = ["live"],
        outboundChunkSize: Int = 4096,
        handshakeTimeoutSeconds: Double = 5,
        mediaTimeoutSeconds: Double = 10,
        maxConnections: Int = 10_000,
        maxConnectionsPerIP: Int = 50,
        failedPublishesPerMinute: Int = 10
    ) {
        self.host = host
        self.port = port
        self.limits = limits
        self.allowedApps = allowedApps
        self.outboundChunkSize = outboundChunkSize
        self.handshakeTimeoutSeconds = handshakeTimeoutSeconds
        self.mediaTimeoutSeconds = mediaTimeoutSeconds
        self.maxConnections = maxConnections
        self.maxConnectionsPerIP = maxConnectionsPerIP
        self.failedPublishesPerMinute = failedPublishesPerMinute
    }

    /// Whether publishers may be asked to move (`capsEx` Reconnect in the connect answer).
    public var sendsReconnectRequest = false
    /// Merged reads (`rtmp.mergeReadsMs`, docs/contract.md §2 "Merged reads"; 100 ms by default): once a publish
    /// runs, a read that brought less than `mergeReadsBelowBytes` waits this long before the
    /// next, so each read takes several messages at once — one system call, one wake-up and
    /// one pass through the pipeline for several messages instead of one each. 0 turns it off.
    public var mergeReadsMilliseconds: Int = 100
    /// A read at least this large reads again at once (a high-rate stream is not held back).
    public var mergeReadsBelowBytes: Int = 16 * 1024

    var stateMachineConfiguration: RTMPConnectionStateMachine.Configuration {
        var c = RTMPConnectionStateMachine.Configuration(limits: limits, allowedApps: allowedApps, outboundChunkSize: outboundChunkSize)
        c.sendsReconnectRequest = sendsReconnectRequest
        return c
    }
}
