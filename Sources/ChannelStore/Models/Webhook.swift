import Foundation

/// A webhook subscription (SPEC §4/§5). `secret` signs deliveries; the API shows it once.
public struct Webhook: Sendable, Equatable {
    public var id: String
    public var url: String
    public var secret: String
    /// Event types; empty = all.
    public var events: [String]
    public var channelIds: [String]
    public var userIds: [String]
    public var enabled: Bool
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String, url: String, secret: String, events: [String] = [], channelIds: [String] = [], userIds: [String] = [],
                enabled: Bool = true, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.url = url
        self.secret = secret
        self.events = events
        self.channelIds = channelIds
        self.userIds = userIds
        self.enabled = enabled
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    public static let eventTypes = ["channel.live", "channel.offline", "channel.publish_rejected", "channel.limit_exceeded",
                                    "video.ready", "forward.failed", "webhook.ping"]
}

public struct WebhookFields: Sendable, Equatable {
    public var url: String?
    public var events: [String]?
    public var channelIds: [String]?
    public var userIds: [String]?
    public var enabled: Bool?

    public init(url: String? = nil, events: [String]? = nil, channelIds: [String]? = nil, userIds: [String]? = nil, enabled: Bool? = nil) {
        self.url = url
        self.events = events
        self.channelIds = channelIds
        self.userIds = userIds
        self.enabled = enabled
    }
}

/// An outbox event (SPEC §5), ordered by `seq`.
public struct StoredEvent: Sendable, Equatable {
    public var seq: Int64
    public var id: String
    public var type: String
    public var channelId: String?
    public var userId: String?
    public var payload: JSONValue
    public var createdAt: Date
}

/// Errors a store reports in terms the API maps to statuses.
public enum StoreError: Error, Equatable, Sendable {
    /// A user limit (its field name) would be exceeded.
    case limitReached(String)
    case conflict(String)
    case invalidCursor
}
