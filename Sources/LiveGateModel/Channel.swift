import Foundation

/// A channel: one stream key, its owner and its output switches (docs/contract.md §4 channel object).
public struct Channel: Sendable, Equatable {
    /// `reconnecting`: the publisher dropped and the reconnect window is open (docs/contract.md §2).
    public enum Status: String, Sendable, Codable, CaseIterable { case offline, live, reconnecting }
    public enum DuplicatePolicy: String, Sendable, Codable, CaseIterable { case reject, replace }
    /// Who may play its HLS (docs/api.md, "Playback"): anyone with the URL, or only a request
    /// carrying a valid playback token.
    public enum PlaybackPolicy: String, Sendable, Codable, CaseIterable { case `public`, signed }

    public var id: String
    public var userId: String
    public var name: String
    public var description: String
    public var tags: [String]
    /// The secret stream key (`streamId` in the API, the name the original API used).
    public var streamKey: String
    public var status: Status
    public var enabled: Bool
    public var hls: Bool
    public var record: Bool
    public var reconnectWindowSec: Int
    public var duplicatePolicy: DuplicatePolicy
    public var metadata: JSONValue
    public var createdAt: Date
    public var updatedAt: Date
    public var lastLiveAt: Date?
    /// The running session's id while live.
    public var sessionId: String?
    public var playbackPolicy: PlaybackPolicy = .public
    /// A limit ended this channel's last session: its publishes are refused until then
    /// (docs/contract.md §2, "Limits"). Stored with the channel, so every node enforces it.
    public var cooldownUntil: Date?
    public var cooldownLimit: UserLimit?
    /// The renditions OBS's Enhanced Broadcasting is asked to encode (`POST /v1/obs/go-live`);
    /// nil: a ladder fitted to the encoder and the owner's limits.
    public var renditions: [Rendition]?

    /// One rendition of the `renditions` setting: size, bit rate, and optionally a frame rate
    /// (else the encoder's own).
    public struct Rendition: Sendable, Equatable {
        public var width: Int
        public var height: Int
        public var bitrateKbps: Int
        public var fps: Double?

        public init(width: Int, height: Int, bitrateKbps: Int, fps: Double? = nil) {
            self.width = width
            self.height = height
            self.bitrateKbps = bitrateKbps
            self.fps = fps
        }

        public var json: JSONValue {
            .object(["width": .number(Double(width)), "height": .number(Double(height)), "bitrateKbps": .number(Double(bitrateKbps)),
                     "fps": fps.map { .number($0) } ?? .null])
        }

        public init?(json: JSONValue) {
            guard case .object(let o) = json, case .number(let w)? = o["width"], case .number(let h)? = o["height"],
                  case .number(let b)? = o["bitrateKbps"] else { return nil }
            var fps: Double?
            if case .number(let f)? = o["fps"] { fps = f }
            self.init(width: Int(w), height: Int(h), bitrateKbps: Int(b), fps: fps)
        }
    }

    /// `renditions` as stored and shown (null: automatic).
    public var renditionsJSON: JSONValue { renditions.map { .array($0.map(\.json)) } ?? .null }

    /// The cooldown still running at `now` (an expired one is no cooldown).
    public func cooldown(at now: Date) -> (until: Date, limit: UserLimit?)? {
        guard let until = cooldownUntil, until > now else { return nil }
        return (until, cooldownLimit)
    }

    /// `cooldownUntil` and `cooldownLimit` as the API and events show them (null when none runs).
    public func cooldownJSON(at now: Date) -> [String: JSONValue] {
        let running = cooldown(at: now)
        return ["cooldownUntil": running.map { .string(Timestamp.format($0.until)) } ?? .null,
                "cooldownLimit": running?.limit.map { .string($0.rawValue) } ?? .null]
    }

    public init(id: String, userId: String, name: String, description: String = "", tags: [String] = [], streamKey: String,
                status: Status = .offline, enabled: Bool = true, hls: Bool = true, record: Bool = false,
                reconnectWindowSec: Int = 10, duplicatePolicy: DuplicatePolicy = .reject, metadata: JSONValue = .object([:]),
                createdAt: Date, updatedAt: Date, lastLiveAt: Date? = nil, sessionId: String? = nil) {
        self.id = id
        self.userId = userId
        self.name = name
        self.description = description
        self.tags = tags
        self.streamKey = streamKey
        self.status = status
        self.enabled = enabled
        self.hls = hls
        self.record = record
        self.reconnectWindowSec = reconnectWindowSec
        self.duplicatePolicy = duplicatePolicy
        self.metadata = metadata
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.lastLiveAt = lastLiveAt
        self.sessionId = sessionId
    }
}

/// The client-settable fields of a channel. `nil` in a PATCH means "leave as is"; PUT fills
/// missing fields with their defaults before it reaches the store.
public struct ChannelFields: Sendable, Equatable {
    public var userId: String?
    public var name: String?
    public var description: String?
    public var tags: [String]?
    public var enabled: Bool?
    public var hls: Bool?
    public var record: Bool?
    public var reconnectWindowSec: Int?
    public var duplicatePolicy: Channel.DuplicatePolicy?
    public var metadata: JSONValue?
    public var playbackPolicy: Channel.PlaybackPolicy?
    /// `.some(nil)`: back to the automatic ladder; nil: unchanged.
    public var renditions: [Channel.Rendition]??

    public init(userId: String? = nil, name: String? = nil, description: String? = nil, tags: [String]? = nil, enabled: Bool? = nil,
                hls: Bool? = nil, record: Bool? = nil, reconnectWindowSec: Int? = nil,
                duplicatePolicy: Channel.DuplicatePolicy? = nil, metadata: JSONValue? = nil, playbackPolicy: Channel.PlaybackPolicy? = nil) {
        self.playbackPolicy = playbackPolicy
        self.userId = userId
        self.name = name
        self.description = description
        self.tags = tags
        self.enabled = enabled
        self.hls = hls
        self.record = record
        self.reconnectWindowSec = reconnectWindowSec
        self.duplicatePolicy = duplicatePolicy
        self.metadata = metadata
    }

    /// What an unset optional field means (a new channel, a PUT without it, a PATCH setting it to null).
    public static let defaults = ChannelFields(description: "", tags: [], enabled: true, hls: true, record: false, reconnectWindowSec: 10,
                                               duplicatePolicy: .reject, metadata: .object([:]), playbackPolicy: .public)
        .with(renditions: .some(nil))

    /// These fields, with every unset one taken from `other`.
    public func filled(from other: ChannelFields) -> ChannelFields {
        ChannelFields(userId: userId ?? other.userId, name: name ?? other.name, description: description ?? other.description,
                      tags: tags ?? other.tags, enabled: enabled ?? other.enabled, hls: hls ?? other.hls, record: record ?? other.record,
                      reconnectWindowSec: reconnectWindowSec ?? other.reconnectWindowSec, duplicatePolicy: duplicatePolicy ?? other.duplicatePolicy,
                      metadata: metadata ?? other.metadata, playbackPolicy: playbackPolicy ?? other.playbackPolicy)
            .with(renditions: renditions ?? other.renditions)
    }

    func with(renditions: [Channel.Rendition]??) -> ChannelFields {
        var copy = self
        copy.renditions = renditions
        return copy
    }

    /// Applies the set fields to `channel`.
    public func apply(to channel: inout Channel) {
        if let userId { channel.userId = userId }
        if let name { channel.name = name }
        if let description { channel.description = description }
        if let tags { channel.tags = tags }
        if let enabled { channel.enabled = enabled }
        if let hls { channel.hls = hls }
        if let record { channel.record = record }
        if let reconnectWindowSec { channel.reconnectWindowSec = reconnectWindowSec }
        if let duplicatePolicy { channel.duplicatePolicy = duplicatePolicy }
        if let metadata { channel.metadata = metadata }
        if let playbackPolicy { channel.playbackPolicy = playbackPolicy }
        if let renditions { channel.renditions = renditions }
    }
}

/// Filters and paging for channel lists.
public struct ChannelQuery: Sendable, Equatable {
    public var status: Channel.Status?
    public var userId: String?
    public var tag: String?
    /// Case-insensitive substring of the name.
    public var nameContains: String?
    public var createdFrom: Date?
    public var createdTo: Date?
    public var limit: Int
    /// Opaque position from a previous page (`Page.nextCursor`).
    public var cursor: String?

    /// Videos only: recordings of this channel.
    public var channelId: String?
    /// Channels only: those whose session this node carries (its lease).
    public var nodeId: String?
    /// Newest first (`order=desc`).
    public var descending = false

    public init(status: Channel.Status? = nil, userId: String? = nil, tag: String? = nil, nameContains: String? = nil,
                createdFrom: Date? = nil, createdTo: Date? = nil, limit: Int = 20, cursor: String? = nil, channelId: String? = nil) {
        self.channelId = channelId
        self.status = status
        self.userId = userId
        self.tag = tag
        self.nameContains = nameContains
        self.createdFrom = createdFrom
        self.createdTo = createdTo
        self.limit = limit
        self.cursor = cursor
    }
}

/// One page of a list and the cursor for the next (`nil` on the last page).
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var nextCursor: String?

    public init(items: [Item], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }
}
