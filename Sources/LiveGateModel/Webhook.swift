import Foundation

/// A webhook subscription (docs/contract.md §4/§5). `secret` signs deliveries; the API shows it once.
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
    /// First failed attempt since the last delivered one (nil while healthy): after
    /// `webhooks.disableAfterDays` of failures the webhook is disabled.
    public var failingSince: Date?
    /// Set while disabled: when, and why in words ("disabled through the API", or the failures).
    public var disabledAt: Date?
    public var disabledReason: String?
    /// Who disabled it; re-enabling a webhook the failures disabled resumes its undelivered events.
    public var disabledBy: DisabledBy?

    public enum DisabledBy: String, Sendable { case api, failures }

    /// The secret the last rotation replaced, and until when it still signs beside `secret`
    /// (docs/api.md, "Rotating a webhook secret").
    public var previousSecret: String?
    public var previousSecretUntil: Date?

    /// The secrets that sign a delivery sent at `now`: the current one first, then the
    /// previous one during its overlap.
    public func signingSecrets(at now: Date) -> [String] {
        guard let previousSecret, let until = previousSecretUntil, until > now else { return [secret] }
        return [secret, previousSecret]
    }

    public init(id: String, url: String, secret: String, events: [String] = [], channelIds: [String] = [], userIds: [String] = [],
                enabled: Bool = true, createdAt: Date, updatedAt: Date, failingSince: Date? = nil, disabledAt: Date? = nil,
                disabledReason: String? = nil, disabledBy: DisabledBy? = nil, previousSecret: String? = nil, previousSecretUntil: Date? = nil) {
        self.previousSecret = previousSecret
        self.previousSecretUntil = previousSecretUntil
        self.failingSince = failingSince
        self.disabledAt = disabledAt
        self.disabledReason = disabledReason
        self.disabledBy = disabledBy
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

    /// Every event type a webhook may subscribe to (docs/contract.md §5).
    public static let eventTypes = EventType.allCases.map(\.rawValue)
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

/// Filters of the event log (`GET /v1/events`): after a `seq` (or a cursor), by type, channel,
/// user and creation time (`from` inclusive, `to` exclusive).
public struct EventQuery: Sendable, Equatable {
    public var after: Int64
    public var types: [String]
    public var channelId: String?
    public var userId: String?
    public var from: Date?
    public var to: Date?
    public var limit: Int
    /// A previous page's `nextCursor` (the later of it and `after` wins).
    public var cursor: String?

    public init(after: Int64 = 0, types: [String] = [], channelId: String? = nil, userId: String? = nil, from: Date? = nil, to: Date? = nil,
                limit: Int = 100, cursor: String? = nil) {
        self.cursor = cursor
        self.after = after
        self.types = types
        self.channelId = channelId
        self.userId = userId
        self.from = from
        self.to = to
        self.limit = limit
    }
}

/// An outbox event (docs/contract.md §5), ordered by `seq`.
public struct StoredEvent: Sendable, Equatable {
    public var seq: Int64
    public var id: String
    public var type: String
    public var channelId: String?
    public var userId: String?
    public var payload: JSONValue
    public var createdAt: Date

    public init(seq: Int64, id: String, type: String, channelId: String?, userId: String?, payload: JSONValue, createdAt: Date) {
        self.seq = seq
        self.id = id
        self.type = type
        self.channelId = channelId
        self.userId = userId
        self.payload = payload
        self.createdAt = createdAt
    }
}

/// Errors a store reports in terms the API maps to statuses.
public enum StoreError: Error, Equatable, Sendable {
    /// A user limit (its field name) would be exceeded.
    case limitReached(String)
    case conflict(String)
    case invalidCursor
}
