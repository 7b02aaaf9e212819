import Foundation

/// One publish session of a channel (SPEC §4 `/v1/channels/{id}/sessions`).
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
    /// SPEC §5 offline reason once ended.
    public var endReason: String?

    public init(id: String, channelId: String, nodeId: String, startedAt: Date, endedAt: Date? = nil, remoteAddr: String, encoder: String,
                videoCodec: String? = nil, audioCodec: String? = nil, bytesIn: Int64 = 0, videoFrames: Int64 = 0, audioFrames: Int64 = 0,
                endReason: String? = nil) {
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
    public enum State: String, Sendable { case pending, delivered, failed }

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

    public init(id: String, webhookId: String, eventSeq: Int64, eventId: String, eventType: String, attempt: Int, state: State,
                nextAttemptAt: Date, statusCode: Int? = nil, latencyMs: Int? = nil, responseExcerpt: String? = nil, createdAt: Date, updatedAt: Date) {
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
