/// Per-user limits (SPEC §4 `/v1/users/{userId}/config`). `nil` = the server default (unlimited).
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

    public init(maxChannels: Int? = nil, maxConcurrentLive: Int? = nil, maxBitrateKbps: Int? = nil, maxWidth: Int? = nil,
                maxHeight: Int? = nil, maxFps: Double? = nil, maxSessionSec: Int? = nil, allowedVideoCodecs: [String]? = nil) {
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

/// Current use against the limits.
public struct UserUsage: Sendable, Equatable {
    public var channels: Int
    public var liveChannels: Int
}
