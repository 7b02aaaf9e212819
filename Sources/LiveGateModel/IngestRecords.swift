import Foundation

/// One publish session of a channel (docs/contract.md §4 `/v1/channels/{id}/sessions`).
public struct SessionRecord: Sendable, Equatable {
    public var id: String
    public var channelId: String
    public var nodeId: String
    public var startedAt: Date
    public var endedAt: Date?
    public var remoteAddr: String
    public var encoder: String
    public var videoCodec: String?
    public var audioCodec: String?
    public var bytesIn: Int64
    public var videoFrames: Int64
    public var audioFrames: Int64
    /// docs/contract.md §5 offline reason once ended.
    public var endReason: String?
    /// Every connection that carried the session, oldest first (docs/contract.md §2: sessions span connections).
    public var connections: [SessionConnection] = []
    /// The channel's owner when the session started: kept with the session, so events about it
    /// still say whose it was after the channel is deleted.
    public var userId: String?
    /// The tracks as `channel.media` reported them (`video`, `audio`), once the first sequence
    /// headers were parsed; the latest connection's.
    public var media: JSONValue?
    /// Seconds the session's stream spent in each health state, over its connections.
    public var health = HealthSeconds()

    public init(id: String, channelId: String, nodeId: String, startedAt: Date, endedAt: Date? = nil, remoteAddr: String, encoder: String,
                videoCodec: String? = nil, audioCodec: String? = nil, bytesIn: Int64 = 0, videoFrames: Int64 = 0, audioFrames: Int64 = 0,
                endReason: String? = nil, connections: [SessionConnection] = [], userId: String? = nil) {
        self.userId = userId
        self.connections = connections
        self.id = id
        self.channelId = channelId
        self.nodeId = nodeId
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.remoteAddr = remoteAddr
        self.encoder = encoder
        self.videoCodec = videoCodec
        self.audioCodec = audioCodec
        self.bytesIn = bytesIn
        self.videoFrames = videoFrames
        self.audioFrames = audioFrames
        self.endReason = endReason
    }
}

/// One publisher connection of a session.
public struct SessionConnection: Sendable, Equatable {
    public var remoteAddr: String
    public var encoder: String
    public var startedAt: Date
    public var endedAt: Date?
    public var endReason: String?
    public var bytesIn: Int64
    /// What an Enhanced-RTMP encoder declared in `connect` (`fourCcList`, the FourCC info maps,
    /// `capsEx`), as the API shows it (docs/contract.md §2); nil for a classic encoder.
    public var encoderCaps: JSONValue?
    /// Seconds this connection's stream spent healthy, degraded and starving (docs/contract.md §4).
    public var health: HealthSeconds?

    public init(remoteAddr: String, encoder: String, startedAt: Date, endedAt: Date? = nil, endReason: String? = nil, bytesIn: Int64 = 0,
                encoderCaps: JSONValue? = nil) {
        self.encoderCaps = encoderCaps
        self.remoteAddr = remoteAddr
        self.encoder = encoder
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.endReason = endReason
        self.bytesIn = bytesIn
    }

    public var json: JSONValue {
        .object(["remoteAddr": .string(remoteAddr), "encoder": .string(encoder), "startedAt": .string(Timestamp.format(startedAt)),
                 "endedAt": endedAt.map { .string(Timestamp.format($0)) } ?? .null, "endReason": endReason.map { .string($0) } ?? .null,
                 "bytesIn": .number(Double(bytesIn)), "encoderCaps": encoderCaps ?? .null, "health": health?.json ?? .null])
    }

    public init?(json: JSONValue) {
        guard case .object(let o) = json, case .string(let remote)? = o["remoteAddr"], case .string(let started)? = o["startedAt"] else { return nil }
        var encoder = ""
        if case .string(let e)? = o["encoder"] { encoder = e }
        var ended: Date?
        if case .string(let e)? = o["endedAt"] { ended = Timestamp.parse(e) }
        var reason: String?
        if case .string(let r)? = o["endReason"] { reason = r }
        var bytes: Int64 = 0
        if case .number(let n)? = o["bytesIn"] { bytes = Int64(n) }
        var caps: JSONValue?
        if case .object? = o["encoderCaps"] { caps = o["encoderCaps"] }
        self.init(remoteAddr: remote, encoder: encoder, startedAt: Timestamp.parse(started), endedAt: ended, endReason: reason, bytesIn: bytes,
                  encoderCaps: caps)
        health = HealthSeconds(json: o["health"])
    }
}

/// An event to append to the outbox, in the same transaction as the state change it describes.
public struct NewEvent: Sendable {
    public var id: String
    public var type: String
    public var channelId: String?
    public var userId: String?
    /// Builds the full event body from the sequence number assigned on insert.
    public var body: @Sendable (_ seq: Int64) -> JSONValue

    public init(id: String, type: String, channelId: String?, userId: String?, body: @escaping @Sendable (Int64) -> JSONValue) {
        self.id = id
        self.type = type
        self.channelId = channelId
        self.userId = userId
        self.body = body
    }
}

/// One attempt-tracked delivery of one event to one webhook.
public struct DeliveryRecord: Sendable, Equatable {
    /// `dropped`: its webhook was disabled before it could be delivered.
    public enum State: String, Sendable, CaseIterable { case pending, delivered, failed, dropped }

    public var id: String
    public var webhookId: String
    public var eventSeq: Int64
    public var eventId: String
    public var eventType: String
    public var attempt: Int
    public var state: State
    public var nextAttemptAt: Date
    public var statusCode: Int?
    public var latencyMs: Int?
    public var responseExcerpt: String?
    public var createdAt: Date
    public var updatedAt: Date
    /// Where the 24 h retry window starts: when it was queued, or when a webhook the failures
    /// had disabled was enabled again (its undelivered events get the whole schedule anew).
    public var retryWindowStart: Date

    public init(id: String, webhookId: String, eventSeq: Int64, eventId: String, eventType: String, attempt: Int, state: State,
                nextAttemptAt: Date, statusCode: Int? = nil, latencyMs: Int? = nil, responseExcerpt: String? = nil, createdAt: Date, updatedAt: Date,
                retryWindowStart: Date? = nil) {
        self.retryWindowStart = retryWindowStart ?? createdAt
        self.id = id
        self.webhookId = webhookId
        self.eventSeq = eventSeq
        self.eventId = eventId
        self.eventType = eventType
        self.attempt = attempt
        self.state = state
        self.nextAttemptAt = nextAttemptAt
        self.statusCode = statusCode
        self.latencyMs = latencyMs
        self.responseExcerpt = responseExcerpt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
