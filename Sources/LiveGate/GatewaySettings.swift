import Foundation
import IngestCore
import LiveGateModel
import MediaPipeline
import RTMPServer

/// The configuration as the composition uses it: read once from `LiveGateConfiguration` (whose
/// string keys are validated and documented in one table, docs/contract.md §1), typed, and
/// handed to `buildApplication`. Nothing below the composition reads a key by name; a test
/// builds the real stack from a configuration (or edits these fields) in-process.
public struct GatewaySettings: Sendable {
    public struct HTTP: Sendable {
        public var host: String
        public var port: Int
        public var tlsCertificate: String
        public var tlsKey: String
        /// Where `http.tlsKey` was set (for `FILE: KEY: reason` errors).
        public var tlsKeySource: String
        /// Balancers whose X-Forwarded-For is believed.
        public var trustedProxies: [CIDRBlock]
    }

    public struct Database: Sendable {
        /// Empty: SQLite in `dataDir`; `sqlite://…` or `postgres://…`.
        public var url: String
        /// How long an unreachable PostgreSQL is retried at start.
        public var connectTimeout: TimeInterval
        public var isPostgres: Bool { url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") }
    }

    public struct API: Sendable {
        public var tokenId: String
        public var tokenSecret: String
        public var authFailuresPerMinute: Int
    }

    public struct Webhooks: Sendable {
        public var blockPrivateNetworks: Bool
        public var maxInFlightPerWebhook: Int
        public var maxInFlight: Int
        /// Seconds of failures after which a webhook is disabled (nil: never).
        public var disableAfter: TimeInterval?
        public var secretOverlap: TimeInterval
    }

    public var dataDir: String
    /// The configured node id (empty: generated once and kept in `dataDir`).
    public var nodeId: String
    public var database: Database
    public var http: HTTP
    public var rtmp: RTMPServerConfiguration
    public var rtmpApp: String
    public var publicHost: String
    public var publicHttpUrl: String
    public var publicRtmpUrl: String
    public var api: API
    public var webhooks: Webhooks
    public var blockPrivateForwards: Bool
    /// hosts(5) file consulted before DNS for webhook and forward hosts (empty: none).
    public var hostsFile: String
    /// HLS, recordings and forwards.
    public var media: MediaHub.Settings
    /// The channel machine's settings (cooldown, media timeout).
    public var lifecycle: ChannelLifecycle.Configuration
    /// Days recordings are kept (nil: for ever).
    public var retentionDays: Int?
    /// `cluster.advertiseUrl` as configured (empty: derived, `advertiseUrl(nodeId:)`).
    public var advertiseUrlSetting: String
    /// `cluster.secret` (empty: the shared database's).
    public var clusterSecret: String
    /// `rtmp.reconnectTcUrl`: where a publisher asked to move connects (empty: where it did).
    public var reconnectTcUrl: String
    /// `health.*` and `stats.historyChannels` (docs/contract.md §4, "Stream health").
    public var healthRules: HealthRules
    public var historyChannels: Int
    /// `thumbnails.intervalSec`, `thumbnails.maxDecodesPerSec`.
    public var thumbnails: (intervalSec: Double, maxDecodesPerSec: Double)
    /// `events.maxStreams`, `events.streamBufferKB`.
    public var eventStreams: (maxStreams: Int, maxBufferedBytes: Int)
    /// `recordings.dir` (empty: DATA_DIR/recordings).
    public var recordingsDir: String
    /// `shutdown.drainSec`: how long a drain keeps its publishers (see `LiveGateApp.runCore`).
    public var drainSec: TimeInterval
    /// `cluster.leaseTtlSec`.
    public var leaseTimeToLive: TimeInterval
    /// `cluster.nodeGoneAfterHours`, in seconds.
    public var nodeGoneAfter: TimeInterval

    /// This node's folder under `recordings.dir` (nil when unset): named after its id, so no two
    /// nodes sharing the storage collide, and start-up recovery only ever reads its own files.
    public func recordingsDirectory(nodeId: String) -> String? {
        guard !recordingsDir.isEmpty else { return nil }
        let safe = !nodeId.isEmpty && !nodeId.hasPrefix(".")
            && nodeId.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0)) }
        return String(recordingsDir.reversed().drop { $0 == "/" }.reversed()) + "/" + (safe ? nodeId : "node-" + NodeTag.of(nodeId))
    }

    /// Where the other nodes reach this one's internal endpoints.
    public var advertiseUrl: String {
        if !advertiseUrlSetting.isEmpty { return String(advertiseUrlSetting.reversed().drop { $0 == "/" }.reversed()) }
        let scheme = http.tlsCertificate.isEmpty ? "http" : "https"
        let host = ["0.0.0.0", "::", "", "[::]"].contains(http.host) ? ProcessInfo.processInfo.hostName : http.host
        return "\(scheme)://\(host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host):\(http.port)"
    }

    /// Reads every key the composition needs, once.
    public init(_ c: LiveGateConfiguration) {
        dataDir = c.string("dataDir")
        nodeId = c.string("nodeId")
        database = Database(url: c.string("database.url"), connectTimeout: c.double("database.connectTimeoutSec"))
        http = HTTP(host: c.string("http.host"), port: c.int("http.port"), tlsCertificate: c.string("http.tlsCertificate"),
                    tlsKey: c.string("http.tlsKey"), tlsKeySource: c.source(of: "http.tlsKey"),
                    trustedProxies: c.string("http.trustedProxies").split(separator: ",").compactMap { CIDRBlock(String($0)) })
        rtmp = c.rtmp
        rtmpApp = c.string("rtmp.app")
        publicHost = c.string("publicHost")
        publicHttpUrl = c.string("publicHttpUrl")
        publicRtmpUrl = c.string("publicRtmpUrl")
        api = API(tokenId: c.string("api.tokenId"), tokenSecret: c.string("api.tokenSecret"), authFailuresPerMinute: c.int("api.authFailuresPerMinute"))
        let disableAfterDays = c.double("webhooks.disableAfterDays")
        webhooks = Webhooks(blockPrivateNetworks: c.bool("webhooks.blockPrivateNetworks"), maxInFlightPerWebhook: c.int("webhooks.maxInFlightPerWebhook"),
                            maxInFlight: c.int("webhooks.maxInFlight"), disableAfter: disableAfterDays > 0 ? disableAfterDays * 86_400 : nil,
                            secretOverlap: Double(c.int("webhooks.secretOverlapSec")))
        blockPrivateForwards = c.bool("forwards.blockPrivateNetworks")
        hostsFile = c.string("network.hostsFile")
        var media = MediaHub.Settings(dataDirectory: dataDir)
        media.hlsSegmentSeconds = c.double("hls.segmentSec")
        media.hlsListSize = c.int("hls.listSize")
        media.hlsSegmentFormat = c.string("hls.segmentFormat")
        media.hlsKeepAfterEndSeconds = c.double("hls.keepAfterEndSec")
        if c.int("hls.threads") > 0 { media.hlsThreads = c.int("hls.threads") }
        media.queueMaxPackets = c.int("outputs.queueMaxPackets")
        media.queueMaxBytes = c.int("outputs.queueMaxMB") << 20
        media.forwardTimeoutSeconds = c.double("forwards.timeoutSec")
        media.forwardFailureThreshold = c.int("forwards.failureThreshold")
        media.forwardTLSVerify = c.bool("forwards.tlsVerify")
        media.forwardTLSCAFile = c.string("forwards.tlsCaFile")
        self.media = media
        lifecycle = ChannelLifecycle.Configuration(limitCooldown: c.double("ingest.limitCooldownSec"), mediaTimeout: c.double("ingest.mediaTimeoutSec"))
        advertiseUrlSetting = c.string("cluster.advertiseUrl")
        clusterSecret = c.string("cluster.secret")
        reconnectTcUrl = c.string("rtmp.reconnectTcUrl")
        var rules = HealthRules()
        rules.starvingNoVideoSec = c.double("health.starvingNoVideoSec")
        rules.starvingFpsRatio = c.double("health.starvingFpsRatio")
        rules.degradedFpsRatio = c.double("health.degradedFpsRatio")
        rules.windowSec = c.double("health.windowSec")
        rules.keyframeMedianFactor = c.double("health.keyframeMedianFactor")
        rules.maxKeyframeIntervalSec = c.double("health.maxKeyframeIntervalSec")
        rules.bitrateDropRatio = c.double("health.bitrateDropRatio")
        rules.maxAVDriftSec = c.double("health.maxAVDriftSec")
        rules.eventIntervalSec = c.double("health.eventIntervalSec")
        healthRules = rules
        historyChannels = c.int("stats.historyChannels")
        thumbnails = (c.double("thumbnails.intervalSec"), c.double("thumbnails.maxDecodesPerSec"))
        eventStreams = (c.int("events.maxStreams"), c.int("events.streamBufferKB") << 10)
        recordingsDir = c.string("recordings.dir")
        nodeGoneAfter = c.double("cluster.nodeGoneAfterHours") * 3600
        leaseTimeToLive = c.double("cluster.leaseTtlSec")
        drainSec = c.double("shutdown.drainSec")
        let retention = c.int("recordings.retentionDays")
        retentionDays = retention > 0 ? retention : nil
    }
}
