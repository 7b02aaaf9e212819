import Foundation

extension Channel {
    /// The channel as it appears in event payloads: everything but the stream key (docs/contract.md §4:
    /// no event payload carries a key).
    public var eventJSON: JSONValue {
        let fields: [String: JSONValue] = [
            "id": .string(id), "userId": .string(userId), "name": .string(name), "description": .string(description),
            "tags": .array(tags.map { .string($0) }), "status": .string(status.rawValue), "enabled": .bool(enabled), "hls": .bool(hls),
            "record": .bool(record), "reconnectWindowSec": .number(Double(reconnectWindowSec)),
            "duplicatePolicy": .string(duplicatePolicy.rawValue), "metadata": metadata,
            "createdAt": .string(Timestamp.format(createdAt)), "updatedAt": .string(Timestamp.format(updatedAt)),
            "lastLiveAt": lastLiveAt.map { .string(Timestamp.format($0)) } ?? .null,
        ]
        return .object(cooldownJSON(at: Date()).merging(fields) { _, own in own })
    }
}

extension NewEvent {
    /// `channel.offline`, built one way wherever a session ends (the node that carried it, or a
    /// node sweeping a lost one): the channel as it is after the end (`offline`, with a cooldown
    /// the end started) — `null` once the channel is deleted (docs/api.md, "Events of a deleted
    /// channel"); `data.session` still names the channel and its owner.
    public static func channelOffline(channel: Channel?, session: SessionRecord, at now: Date) -> NewEvent {
        var channelJSON: JSONValue = .null
        if session.endReason != OfflineReason.deleted.rawValue, var c = channel {
            c.status = .offline
            c.sessionId = nil
            channelJSON = c.eventJSON
        }
        return .make(type: EventType.channelOffline.rawValue, channelId: session.channelId, userId: session.userId ?? channel?.userId, at: now,
                     data: .object(["channel": channelJSON, "session": session.json]))
    }
}

extension Webhook {
    /// The webhook as `webhook.disabled` shows it: everything but the secret.
    public var eventJSON: JSONValue {
        func time(_ d: Date?) -> JSONValue { d.map { .string(Timestamp.format($0)) } ?? .null }
        return .object([
            "id": .string(id), "url": .string(url), "events": .array(events.map { .string($0) }),
            "channelIds": .array(channelIds.map { .string($0) }), "userIds": .array(userIds.map { .string($0) }), "enabled": .bool(enabled),
            "createdAt": .string(Timestamp.format(createdAt)), "updatedAt": .string(Timestamp.format(updatedAt)),
            "previousSecretExpiresAt": previousSecret == nil ? .null : time(previousSecretUntil),
            "failingSince": time(failingSince), "disabledAt": time(disabledAt), "disabledReason": disabledReason.map { .string($0) } ?? .null,
        ])
    }
}

extension SessionRecord {
    public var json: JSONValue {
        .object([
            "id": .string(id), "channelId": .string(channelId), "userId": userId.map { .string($0) } ?? .null,
            "nodeId": .string(nodeId), "startedAt": .string(Timestamp.format(startedAt)),
            "endedAt": endedAt.map { .string(Timestamp.format($0)) } ?? .null, "remoteAddr": .string(remoteAddr), "encoder": .string(encoder),
            "videoCodec": videoCodec.map { .string($0) } ?? .null, "audioCodec": audioCodec.map { .string($0) } ?? .null,
            "bytesIn": .number(Double(bytesIn)), "videoFrames": .number(Double(videoFrames)), "audioFrames": .number(Double(audioFrames)),
            "reason": endReason.map { .string($0) } ?? .null,
            "connections": .array(connections.map(\.json)), "media": media ?? .null, "health": health.json,
        ])
    }
}

extension Video {
    /// The video as the API and `video.ready` show it (the file is reached by id, not path).
    public var json: JSONValue {
        .object([
            "id": .string(id), "channelId": .string(channelId), "userId": .string(userId), "sessionId": sessionId.map { .string($0) } ?? .null,
            "name": .string(name), "durationSec": .number(durationSec), "sizeBytes": .number(Double(sizeBytes)),
            "videoCodec": videoCodec.map { .string($0) } ?? .null, "audioCodec": audioCodec.map { .string($0) } ?? .null,
            "width": width.map { .number(Double($0)) } ?? .null, "height": height.map { .number(Double($0)) } ?? .null,
            "createdAt": .string(Timestamp.format(createdAt)),
        ])
    }
}

extension NewEvent {
    /// An event in the docs/contract.md §5 envelope: `{id, type, createdAt, seq, data}`.
    public static func make(type: String, channelId: String?, userId: String?, at now: Date, data: JSONValue) -> NewEvent {
        let id = "evt_" + Identifiers.hex(24)
        let eventID = String(id)
        return NewEvent(id: eventID, type: type, channelId: channelId, userId: userId) { seq in
            .object(["id": .string(eventID), "type": .string(type), "createdAt": .string(Timestamp.format(now)),
                     "seq": .number(Double(seq)), "data": data])
        }
    }
}
