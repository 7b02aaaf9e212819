import LiveGateModel
import ChannelStore
import Foundation
import enum NIOCore.SocketAddress

/// What the API needs to know about the rest of the gateway.
public struct ControlAPIConfiguration: Sendable {
    public var version: String
    public var nodeId: String
    /// Host put into `streamUrl` (`LIVEGATE_PUBLIC_HOST`).
    public var publicHost: String
    public var rtmpPort: Int
    public var httpPort: Int
    public var rtmpApp: String
    public var startedAt: Date
    /// `api.authFailuresPerMinute`: failed logins per client address or token id per minute
    /// before failing attempts get 429 (correct credentials never do); 0 = off.
    public var authFailuresPerMinute: Int
    /// `webhooks.blockPrivateNetworks`: refuse webhook URLs on loopback/private addresses.
    public var blockPrivateNetworks: Bool
    /// `forwards.blockPrivateNetworks`: the same for push targets.
    public var blockPrivateForwards: Bool
    /// `publicHttpUrl`: the HTTP base players and clients reach this API at (no trailing slash):
    /// channels' `playback.hlsUrl` are built on it. Empty: `http://publicHost:httpPort`.
    public var publicHttpUrlSetting = ""
    public var publicHttpUrl: String {
        publicHttpUrlSetting.isEmpty ? "http://\(publicHost):\(httpPort)" : String(publicHttpUrlSetting.reversed().drop { $0 == "/" }.reversed())
    }
    /// `recordings.retentionDays` (whole days; nil = kept for ever): shown in `/usage`.
    public var retentionDays: Int?
    /// `webhooks.secretOverlapSec`: how long a rotated-out secret keeps signing.
    public var webhookSecretOverlap: TimeInterval = 86_400
    /// `DATA_DIR/hls`, served at `/hls/…`; nil = no HLS served.
    public var hlsDirectory: String?
    /// `http.trustedProxies`: a peer for which this is true is a balancer, and the client's
    /// address is read from its `X-Forwarded-For` (`ClientAddress`).
    public var trustedProxy: @Sendable (SocketAddress) -> Bool
    /// The RTMP listener's failed-publish counter (`POST /v1/obs/go-live` counts wrong keys in it).
    public var failedPublishes: FailedPublishGate?

    public init(version: String, nodeId: String, publicHost: String, rtmpPort: Int, httpPort: Int, rtmpApp: String = "live",
                startedAt: Date = Date(), authFailuresPerMinute: Int = 20, blockPrivateNetworks: Bool = false, blockPrivateForwards: Bool = false,
                hlsDirectory: String? = nil, trustedProxy: @escaping @Sendable (SocketAddress) -> Bool = { _ in false }) {
        self.trustedProxy = trustedProxy
        self.blockPrivateForwards = blockPrivateForwards
        self.hlsDirectory = hlsDirectory
        self.authFailuresPerMinute = authFailuresPerMinute
        self.blockPrivateNetworks = blockPrivateNetworks
        self.version = version
        self.nodeId = nodeId
        self.publicHost = publicHost
        self.rtmpPort = rtmpPort
        self.httpPort = httpPort
        self.rtmpApp = rtmpApp
        self.startedAt = startedAt
    }

    /// Fetches what another node holds (HLS files, recordings) and signs node-to-node
    /// requests; nil: a single node, nothing to fetch, the internal endpoints closed.
    public var peers: PeerRelay?
    /// `events.maxStreams`, `events.streamBufferKB`: bounds of the live event streams.
    public var eventStreams = EventFeed.Settings()
    /// Starts this node's drain (`POST /v1/system/drain`): publishers carried now, and when the
    /// node stops at the latest. Nil: not offered (an API without a gateway, in tests).
    public var drain: (@Sendable () async -> (publishers: Int, stopsBy: Date))?
    /// `cluster.leaseTtlSec`: a node whose heartbeat is older is not `healthy` in `/v1/system`
    /// (the same life its sessions' leases have).
    public var leaseTimeToLive: TimeInterval = SessionLease.timeToLive
    /// `cluster.nodeGoneAfterHours`: a node absent (no heartbeat, or stopped) this long is gone
    /// for good, and its recordings' files with it (`fileAvailable: false`).
    public var nodeGoneAfter: TimeInterval = 24 * 3600

    /// `rtmp://HOST:PORT/live` — OBS's "Server"; the stream key is `streamId`.
    /// Why this node takes no publishes now (`draining`), nil while it does: `/readyz/ingest`,
    /// which balancers check for RTMP and HLS.
    public var ingestUnavailable: @Sendable () -> String? = { nil }

    /// `publicRtmpUrl` when set (the balancer's address publishers use, with the application),
    /// else this node's own `rtmp://publicHost:rtmpPort/app`.
    public var publicRtmpUrlSetting = ""
    public var streamUrl: String {
        publicRtmpUrlSetting.isEmpty ? "rtmp://\(publicHost):\(rtmpPort)/\(rtmpApp)" : String(publicRtmpUrlSetting.reversed().drop { $0 == "/" }.reversed())
    }
}
