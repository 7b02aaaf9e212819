import Foundation

/// A push target of a channel (docs/contract.md §3 `forwards`): while the channel is live, its media is
/// re-published to `url` (`rtmp://` or `rtmps://`).
public struct Forward: Sendable, Equatable {
    /// docs/contract.md §3: at most this many targets per channel.
    public static let maxPerChannel = 5

    public var id: String
    public var channelId: String
    public var url: String
    public var enabled: Bool
    /// The target speaks Enhanced RTMP: it gets every track and every codec through LiveGate's
    /// own FLV/RTMP writer; a plain target gets track 0 in classic FLV codecs (docs/contract.md §3).
    public var enhanced: Bool
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String, channelId: String, url: String, enabled: Bool, enhanced: Bool = false, createdAt: Date, updatedAt: Date) {
        self.enhanced = enhanced
        self.id = id
        self.channelId = channelId
        self.url = url
        self.enabled = enabled
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
