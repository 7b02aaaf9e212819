/// Per-user limits (docs/contract.md §4 `/v1/users/{userId}/config`). `nil` = the server default (unlimited).
public struct UserLimits: Sendable, Equatable {
    public var maxChannels: Int?
    public var maxConcurrentLive: Int?
    /// Sustained over 10 s.
    public var maxBitrateKbps: Int?
    public var maxWidth: Int?
    public var maxHeight: Int?
    public var maxFps: Double?
    public var maxSessionSec: Int?
    /// e.g. `["h264", "hevc"]`; `nil` = any.
    public var allowedVideoCodecs: [String]?
    /// Recordings older than this many days are deleted (`recordings.retentionDays` for this
    /// user); nil = the server's setting.
    public var retentionDays: Int?

    public init(maxChannels: Int? = nil, maxConcurrentLive: Int? = nil, maxBitrateKbps: Int? = nil, maxWidth: Int? = nil,
                maxHeight: Int? = nil, maxFps: Double? = nil, maxSessionSec: Int? = nil, allowedVideoCodecs: [String]? = nil,
                retentionDays: Int? = nil) {
        self.retentionDays = retentionDays
        self.maxChannels = maxChannels
        self.maxConcurrentLive = maxConcurrentLive
        self.maxBitrateKbps = maxBitrateKbps
        self.maxWidth = maxWidth
        self.maxHeight = maxHeight
        self.maxFps = maxFps
        self.maxSessionSec = maxSessionSec
        self.allowedVideoCodecs = allowedVideoCodecs
    }
}

extension UserLimits {
    /// Whether these limits ease `limit` compared with `before`: removed, raised, or (codecs)
    /// widened — what ends a cooldown that limit started (docs/contract.md §2, "Limits").
    public func eases(_ limit: UserLimit, comparedWith before: UserLimits) -> Bool {
        func looser<T: Comparable>(_ new: T?, _ old: T?) -> Bool {
            guard let new else { return old != nil }
            guard let old else { return false }
            return new > old
        }
        switch limit {
        case .maxConcurrentLive: return looser(maxConcurrentLive, before.maxConcurrentLive)
        case .maxBitrateKbps: return looser(maxBitrateKbps, before.maxBitrateKbps)
        case .maxWidth: return looser(maxWidth, before.maxWidth)
        case .maxHeight: return looser(maxHeight, before.maxHeight)
        case .maxFps: return looser(maxFps, before.maxFps)
        case .maxSessionSec: return looser(maxSessionSec, before.maxSessionSec)
        case .allowedVideoCodecs:
            guard let new = allowedVideoCodecs else { return before.allowedVideoCodecs != nil }
            guard let old = before.allowedVideoCodecs else { return false }
            return Set(new).isStrictSuperset(of: Set(old))
        }
    }
}

/// Current use against the limits.
public struct UserUsage: Sendable, Equatable {
    public var channels: Int
    public var liveChannels: Int
    /// Recordings kept, and their bytes on disk.
    public var videos: Int = 0
    public var videoBytes: Int64 = 0

    public init(channels: Int, liveChannels: Int, videos: Int = 0, videoBytes: Int64 = 0) {
        self.channels = channels
        self.liveChannels = liveChannels
        self.videos = videos
        self.videoBytes = videoBytes
    }
}
