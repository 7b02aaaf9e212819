import LiveGateModel
import Foundation
import RTMPCore
import RTMPServer
import Yams

/// The gateway's configuration: built-in defaults < config file < environment < flags
/// (docs/contract.md §1). Values are kept as validated strings keyed by dotted path and read through
/// typed accessors, so every key is documented and checked in one place (`keys`).
public struct LiveGateConfiguration: Sendable {
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public var source: String
        public var key: String
        public var reason: String
        public var description: String { "\(source): \(key): \(reason)" }
    }

    public static let keys: [ConfigKey] = [
        ConfigKey("rtmp.host", .string, default: "0.0.0.0", "Address the RTMP listener binds."),
        ConfigKey("rtmp.port", .int(0...65535), default: "1935", "RTMP listener port."),
        ConfigKey("rtmp.app", .string, default: "live", "The one application name publishers connect to."),
        ConfigKey("rtmp.chunkSize", .int(128...65536), default: "4096", "Chunk size LiveGate sends with (announced by Set Chunk Size)."),
        ConfigKey("rtmp.handshakeTimeoutSec", .double(0.1...120), default: "5", "C0+C1 and C2 must arrive within this many seconds."),
        ConfigKey("rtmp.maxMessageBytes", .int(4096...16_777_215), default: "8388608", "Largest RTMP message accepted (bytes)."),
        ConfigKey("rtmp.maxConnections", .int(1...1_000_000), default: "10000", "Connections accepted across the server."),
        ConfigKey("rtmp.maxConnectionsPerIP", .int(0...1_000_000), default: "50", "Connections per remote IP; 0 = unlimited."),
        ConfigKey("rtmp.failedPublishesPerMinute", .int(0...1_000_000), default: "10",
                  "Refused publishes per IP per minute before that IP is refused without lookup for 60 s; 0 = off."),
        ConfigKey("rtmp.reconnectTcUrl", .string, default: "",
                  "Where a publisher asked to move (Enhanced RTMP ReconnectRequest: a drain, POST /v1/channels/{id}/reconnect) connects anew, e.g. the balancer's rtmp://host:1935/live; empty = the URL it used."),
        ConfigKey("rtmp.proxyProtocol", .oneOf(ProxyProtocolMode.allCases.map(\.rawValue)), default: "off",
                  "PROXY protocol from rtmp.trustedProxies: off, v1, v2 (HAProxy send-proxy-v2, AWS NLB) or auto (either, or none)."),
        ConfigKey("rtmp.trustedProxies", .cidrList, default: "",
                  "Balancers allowed to send a PROXY header: a list of addresses or CIDR blocks (YAML list or comma-separated)."),
        ConfigKey("rtmp.mergeReadsMs", .int(0...500), default: "100",
                  "Merged reads: once a publish runs, a small read waits this long before the next, so one read takes several messages (about half the CPU per real-time publisher, at most this much more ingest latency); 0 = off."),
        ConfigKey("rtmp.tlsPort", .int(0...65535), default: "1936", "RTMPS listener port (on only with tlsCertificate and tlsKey)."),
        ConfigKey("rtmp.tlsCertificate", .string, default: "", "PEM certificate chain for RTMPS; empty = RTMPS off."),
        ConfigKey("rtmp.tlsKey", .string, default: "", "PEM private key for RTMPS."),
        ConfigKey("ingest.mediaTimeoutSec", .double(1...3600), default: "10", "A publisher sending no media this long is dropped."),
        ConfigKey("ingest.limitCooldownSec", .double(0...86400), default: "60",
                  "After a user limit ended a session, that channel's publishes are refused this long (an auto-reconnecting encoder does not loop)."),
        // Stream health (docs/contract.md §4, "Stream health"): 0 turns a rule off.
        ConfigKey("health.starvingNoVideoSec", .double(0...3600), default: "2", "Starving: no video frame for this long."),
        ConfigKey("health.starvingFpsRatio", .double(0...1), default: "0.5", "Starving: frames received per second over the window below this share of the stream's own rate."),
        ConfigKey("health.degradedFpsRatio", .double(0...1), default: "0.9", "Degraded: received fps below this share of the stream's own rate."),
        ConfigKey("health.windowSec", .double(2...600), default: "10", "The window received fps and the short bit rate are measured over."),
        ConfigKey("health.keyframeMedianFactor", .double(0...100), default: "2", "Degraded: a keyframe interval above this many times the session's median."),
        ConfigKey("health.maxKeyframeIntervalSec", .double(0...3600), default: "10", "Degraded: a keyframe interval above this many seconds."),
        ConfigKey("health.bitrateDropRatio", .double(0...1), default: "0.5", "Degraded: the video bit rate over the window below this share of its 1-minute average."),
        ConfigKey("health.maxAVDriftSec", .double(0...3600), default: "1", "Degraded: audio and video timestamps apart by more than this."),
        ConfigKey("health.eventIntervalSec", .double(0...3600), default: "30",
                  "channel.health_changed at most once per channel per this many seconds (the state at the end of a burst is always sent)."),
        ConfigKey("events.maxStreams", .int(1...100_000), default: "100", "Open GET /v1/events/stream connections this node serves at most (more: 503)."),
        ConfigKey("events.streamBufferKB", .int(16...1_048_576), default: "1024",
                  "Events waiting unread for one event stream at most; a reader that slow is closed (it resumes with Last-Event-ID)."),
        ConfigKey("thumbnails.intervalSec", .double(1...3600), default: "5", "A live channel's picture is decoded at most once per this many seconds (per width)."),
        ConfigKey("thumbnails.maxDecodesPerSec", .double(0.1...1000), default: "10", "Thumbnail decodes this node makes per second at most, all channels together."),
        ConfigKey("stats.historyChannels", .int(1...1_000_000), default: "1000",
                  "Channels whose last hour of 10 s stats points is kept in memory (live and recently live; the least recently updated go first)."),
        ConfigKey("http.host", .string, default: "0.0.0.0", "Address the HTTP listener (API, HLS, metrics) binds."),
        ConfigKey("http.port", .int(0...65535), default: "8080", "HTTP listener port."),
        ConfigKey("http.trustedProxies", .cidrList, default: "",
                  "Balancers in front of the HTTP port: from these peers the client's address is read from X-Forwarded-For (failed-login throttle, logs). A list of addresses or CIDR blocks."),
        ConfigKey("http.tlsCertificate", .string, default: "", "PEM certificate chain: serve the API over HTTPS; empty = plain HTTP."),
        ConfigKey("http.tlsKey", .string, default: "", "PEM private key for HTTPS."),
        ConfigKey("publicHost", .string, default: "localhost", "Host put into streamUrl (rtmp://HOST:PORT/live)."),
        ConfigKey("publicRtmpUrl", .string, default: "",
                  "Where publishers reach the RTMP port, with the application (rtmp://live.example.com/live or rtmps://… behind a balancer): channels' streamUrl; empty = rtmp://publicHost:rtmp.port/rtmp.app."),
        ConfigKey("publicHttpUrl", .string, default: "",
                  "Base URL players reach the HTTP port at (https://live.example.com behind a balancer): channels' playback.hlsUrl; empty = http://publicHost:http.port."),
        ConfigKey("dataDir", .string, default: "data", "Folder for the SQLite file, HLS and recordings."),
        ConfigKey("database.url", .string, default: "", "Empty = SQLite at DATA_DIR/livegate.sqlite; sqlite://PATH; postgres://USER:PASSWORD@HOST[:PORT]/DB for PostgreSQL."),
        ConfigKey("database.connectTimeoutSec", .double(0...3600), default: "60",
                  "PostgreSQL unreachable at start: retry with backoff this long (readyz answers 503 meanwhile), then exit."),
        ConfigKey("api.tokenId", .string, default: "", "API token id (LIVE_TOKEN_ID). Empty with no tokens stored: one is generated and printed once."),
        ConfigKey("api.tokenSecret", .string, default: "", "API token secret (LIVE_TOKEN_SECRET); stored hashed."),
        ConfigKey("api.authFailuresPerMinute", .int(0...1_000_000), default: "20",
                  "Failed Basic-auth attempts per client address or token id per minute before further failing attempts get 429 with Retry-After (doubling while they go on); correct credentials are always accepted; 0 = off."),
        ConfigKey("webhooks.blockPrivateNetworks", .bool, default: "false",
                  "Refuse webhook receivers on non-public addresses (loopback, private, link-local, metadata …): checked when saved and on every delivery."),
        ConfigKey("forwards.blockPrivateNetworks", .bool, default: "false",
                  "Refuse push targets on non-public addresses: checked when saved and before every connect."),
        ConfigKey("network.hostsFile", .readableFile, default: "",
                  "hosts(5) file consulted before DNS for webhook and forward hosts (split-horizon overrides); empty = none."),
        ConfigKey("webhooks.secretOverlapSec", .int(0...604_800), default: "86400",
                  "After POST /v1/webhooks/{id}/rotate-secret, the old secret keeps signing beside the new one this long (a request may ask for another overlapSec)."),
        ConfigKey("webhooks.disableAfterDays", .double(0...365), default: "5",
                  "A webhook whose every delivery failed this long is disabled (webhook.disabled to the others); 0 = never."),
        ConfigKey("webhooks.maxInFlightPerWebhook", .int(1...64), default: "4",
                  "Attempts in flight per receiver: its lane (a slow receiver holds only these)."),
        ConfigKey("webhooks.maxInFlight", .int(1...4096), default: "64", "Attempts in flight across all receivers."),
        ConfigKey("hls.segmentSec", .double(0.5...60), default: "2", "HLS target segment length (segments are cut on keyframes)."),
        ConfigKey("hls.listSize", .int(1...100), default: "6", "Segments in the live HLS playlist."),
        ConfigKey("hls.segmentFormat", .oneOf(["auto", "mpegts", "fmp4"]), default: "auto",
                  "HLS segments: auto = fMP4 (CMAF, EXT-X-MAP) when a track is HEVC, AV1, VP9, Opus or FLAC, else MPEG-TS; decided per session."),
        ConfigKey("recordings.retentionDays", .int(0...36_500), default: "0",
                  "Recordings older than this many days are deleted, file and row, with a video.deleted event; 0 = kept for ever (a user's config may set its own)."),
        ConfigKey("hls.keepAfterEndSec", .double(0...86400), default: "60",
                  "After a session ends its playlist (with EXT-X-ENDLIST) and segments stay this long, so players finish; 0 = removed at once."),
        ConfigKey("hls.threads", .int(0...256), default: "0",
                  "Threads that write every channel's HLS, each running its share of the channels once per 0.1 s; 0 = four per core, at most 32."),
        ConfigKey("outputs.queueMaxPackets", .int(16...1_000_000), default: "2048",
                  "Per-output queue bound in packets; a slower output drops to the next keyframe."),
        ConfigKey("outputs.queueMaxMB", .int(1...4096), default: "32", "Per-output queue bound in MiB."),
        ConfigKey("forwards.timeoutSec", .double(0.5...120), default: "5", "Bound on each connect/write to a forward target."),
        ConfigKey("forwards.failureThreshold", .int(1...1000), default: "3", "Consecutive failed attempts before forward.failed."),
        ConfigKey("forwards.tlsVerify", .bool, default: "true",
                  "rtmps:// forwards: verify the target's certificate chain and host name (off only for testing)."),
        ConfigKey("forwards.tlsCaFile", .readableFile, default: "", "rtmps:// forwards: PEM file of trusted CAs; empty = the system's trust store."),
        ConfigKey("cluster.advertiseUrl", .string, default: "",
                  "Where the other nodes reach this node's HTTP port (http://10.0.0.5:8080): they fetch the HLS files and recordings it holds from there; empty = http://HOST:http.port with http.host, or this machine's host name when that is 0.0.0.0."),
        ConfigKey("cluster.secret", .string, default: "",
                  "Key node-to-node requests are signed with (HMAC-SHA256); empty = a key the shared database made once, the same for every node on it."),
        ConfigKey("shutdown.drainSec", .double(0...600), default: "8",
                  "A drain (POST /v1/system/drain) keeps the publishers this long — or until they left — after refusing new ones, then stops the node, handing its sessions over. After a SIGTERM the wait is what the 10 s exit leaves (1 s)."),
        ConfigKey("cluster.leaseTtlSec", .double(2...60), default: "5",
                  "A session's lease outlives its node's last renewal this long (on PostgreSQL judged on the database's clock): then its node counts as dead and the session can be continued elsewhere."),
        ConfigKey("cluster.nodeGoneAfterHours", .double(0.01...87_600), default: "24",
                  "A node absent this long (no heartbeat, or stopped) is gone for good: its recordings say fileAvailable: false."),
        ConfigKey("recordings.dir", .string, default: "",
                  "Folder for recordings; empty = DATA_DIR/recordings. Storage several nodes share (NFS) works: each node writes under its own sub-folder, named after its node id."),
        ConfigKey("nodeId", .string, default: "",
                  "This node's id in /v1/system and sessions; empty = generated once and kept in DATA_DIR/node-id (never the host name)."),
        ConfigKey("log.level", .oneOf(["trace", "debug", "info", "notice", "warning", "error", "critical"]), default: "info", "Log level."),
        ConfigKey("log.format", .oneOf(["text", "json"]), default: "text", "Log line format."),
    ]

    private var values: [String: String]
    /// Where each value came from: the file's path, `environment NAME`, `flag`; absent = default.
    private var sources: [String: String] = [:]
    public private(set) var problems: [Problem] = []
    /// Things that do not stop a start but are probably mistakes (a `LIVEGATE_…` variable that
    /// names no key): printed by `check-config` and logged by `serve`.
    public private(set) var warnings: [Problem] = []

    /// Variables with the `LIVEGATE_` prefix that are not configuration keys.
    public static let otherEnvironmentNames: Set<String> = ["LIVEGATE_CONFIG"]

    /// Loads defaults, then `file` (if any), then `environment`, then `overrides` (flags).
    public init(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                overrides: [String: String] = [:]) {
        values = Dictionary(uniqueKeysWithValues: Self.keys.map { ($0.path, $0.defaultValue) })
        if let file {
            loadFile(file)
        }
        for key in Self.keys {
            if let value = environment[key.environmentName] { set(key.path, value, source: "environment \(key.environmentName)") }
        }
        let known = Set(Self.keys.map(\.environmentName)).union(Self.otherEnvironmentNames)
        for name in environment.keys.sorted() where name.hasPrefix("LIVEGATE_") && !known.contains(name) {
            let nearest = Self.nearestKey(toEnvironmentName: name)
            warnings.append(Problem(source: "environment", key: name,
                                    reason: "names no configuration key (ignored); did you mean \(nearest.environmentName) (\(nearest.path))?"))
        }
        // The credential names App Servers built for the original API already use.
        if let id = environment["LIVE_TOKEN_ID"] { set("api.tokenId", id, source: "environment LIVE_TOKEN_ID") }
        if let secret = environment["LIVE_TOKEN_SECRET"] { set("api.tokenSecret", secret, source: "environment LIVE_TOKEN_SECRET") }
        for (path, value) in overrides { set(path, value, source: "flag") }
    }

    private mutating func set(_ path: String, _ value: String, source: String) {
        guard let key = Self.keys.first(where: { $0.path == path }) else {
            problems.append(Problem(source: source, key: path, reason: "unknown key"))
            return
        }
        if let reason = key.validate(value) {
            problems.append(Problem(source: source, key: path, reason: "\(reason) (got '\(value)')"))
            return
        }
        values[path] = value
        sources[path] = source
    }

    /// Where `path`'s value came from, for `FILE: KEY: reason` lines: the file, the variable,
    /// `flag`, or `default`.
    public func source(of path: String) -> String { sources[path] ?? "default" }

    /// The documented key whose variable name is closest (edit distance) to `name`.
    static func nearestKey(toEnvironmentName name: String) -> ConfigKey {
        keys.min { editDistance($0.environmentName, name) < editDistance($1.environmentName, name) } ?? keys[0]
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// Adds problems found beyond single values (`ConfigurationPreflight`).
    mutating func append(_ more: [Problem]) { problems.append(contentsOf: more) }
    mutating func appendWarning(_ warning: Problem) { warnings.append(warning) }

    private mutating func loadFile(_ path: String) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            problems.append(Problem(source: path, key: "-", reason: "cannot read the file"))
            return
        }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            problems.append(Problem(source: path, key: "-", reason: "not valid YAML: \(error)"))
            return
        }
        guard let node else { return }
        flatten(node, prefix: "", file: path)
    }

    /// Keys whose YAML value may be a list.
    static let listKeys: Set<String> = ["rtmp.trustedProxies", "http.trustedProxies"]

    private mutating func flatten(_ node: Node, prefix: String, file: String) {
        switch node {
        case .mapping(let mapping):
            for (k, v) in mapping {
                let name = k.string ?? "?"
                flatten(v, prefix: prefix.isEmpty ? name : "\(prefix).\(name)", file: file)
            }
        case .scalar(let scalar):
            if scalar.string == "null" || scalar.string == "~" { return }
            set(prefix, scalar.string, source: file)
        case .sequence(let items) where Self.listKeys.contains(prefix):
            // A list key (`rtmp.trustedProxies`) is kept comma-separated, as its environment form.
            let values = items.compactMap { $0.scalar?.string }
            guard values.count == items.count else {
                problems.append(Problem(source: file, key: prefix, reason: "must be a list of plain values"))
                return
            }
            set(prefix, values.joined(separator: ","), source: file)
        case .sequence:
            problems.append(Problem(source: file, key: prefix, reason: "lists are not accepted here"))
        case .alias:
            problems.append(Problem(source: file, key: prefix, reason: "YAML aliases are not accepted"))
        }
    }

    public func string(_ path: String) -> String { values[path] ?? "" }
    public func int(_ path: String) -> Int { Int(string(path)) ?? 0 }
    public func double(_ path: String) -> Double { Double(string(path)) ?? 0 }
    public func bool(_ path: String) -> Bool { string(path).lowercased() == "true" }

    public var rtmp: RTMPServerConfiguration {
        var c = RTMPServerConfiguration(
            host: string("rtmp.host"),
            port: int("rtmp.port"),
            limits: RTMPLimits(maxMessageBytes: int("rtmp.maxMessageBytes")),
            allowedApps: [string("rtmp.app")],
            outboundChunkSize: int("rtmp.chunkSize"),
            handshakeTimeoutSeconds: double("rtmp.handshakeTimeoutSec"),
            mediaTimeoutSeconds: double("ingest.mediaTimeoutSec"),
            maxConnections: int("rtmp.maxConnections"),
            maxConnectionsPerIP: int("rtmp.maxConnectionsPerIP"),
            failedPublishesPerMinute: int("rtmp.failedPublishesPerMinute")
        )
        c.mergeReadsMilliseconds = int("rtmp.mergeReadsMs")
        c.tlsPort = int("rtmp.tlsPort")
        c.proxyProtocol = ProxyProtocolMode(rawValue: string("rtmp.proxyProtocol")) ?? .off
        c.trustedProxies = string("rtmp.trustedProxies").split(separator: ",").compactMap { CIDRBlock(String($0)) }
        c.tlsCertificatePath = string("rtmp.tlsCertificate")
        c.tlsKeyPath = string("rtmp.tlsKey")
        return c
    }
}
