import LiveGateModel
import ChannelStore

/// The webhook payloads in the OpenAPI document: one named schema per event type (the same
/// bodies `/v1/events` lists) and the OpenAPI 3.1 `webhooks` section that says what a receiver
/// is POSTed. Written from the payload builders (`Channel.eventJSON`, `SessionRecord.json`, …);
/// `WebhookEndpointsTests.testEveryEventTypeMatchesItsPublishedSchema` checks every event type the
/// gateway sends, produced for real, against these schemas with `jsonschema` (PyPI).
enum OpenAPIEventSchemas: JSONSchemaVocabulary {
    // MARK: Payload parts

    static var parts: [String: JSONValue] {
        [
            "EventChannel": described(object([
                "id": string, "userId": string, "name": string, "description": string, "tags": array(string),
                "status": oneOf(Channel.Status.allCases.map(\.rawValue)), "enabled": boolean, "hls": boolean, "record": boolean, "reconnectWindowSec": integer,
                "duplicatePolicy": oneOf(["reject", "replace"]), "metadata": .object(["type": .string("object")]),
                "createdAt": dateTime, "updatedAt": dateTime, "lastLiveAt": nullable(dateTime),
                "cooldownUntil": nullable(dateTime), "cooldownLimit": nullable(oneOf(UserLimit.allCases.map(\.rawValue))),
            ]), "The channel as events carry it: everything but the stream key."),
            "EventSessionConnection": object([
                "remoteAddr": string, "encoder": string, "startedAt": dateTime, "endedAt": nullable(dateTime),
                "endReason": nullable(string), "bytesIn": integer,
                "encoderCaps": described(nullable(ref("EncoderCaps")), "What an Enhanced-RTMP encoder declared in connect (null for a classic one)"),
                "health": described(nullable(ref("HealthSeconds")), "Seconds in each health state (null until the connection ended)"),
            ]),
            "HealthSeconds": object(["healthySec": number, "degradedSec": number, "starvingSec": number]),
            "EncoderCaps": object([
                "fourCcList": array(string),
                "videoFourCcInfoMap": described(.object(["type": .string("object"), "additionalProperties": integer]),
                                                "FourCC → flags: CanDecode 1, CanEncode 2, CanForward 4; * for every codec"),
                "audioFourCcInfoMap": .object(["type": .string("object"), "additionalProperties": integer]),
                "capsEx": described(nullable(integer), "Reconnect 1, Multitrack 2, ModEx 4, TimestampNanoOffset 8"),
                "capsExFlags": array(oneOf(["reconnect", "multitrack", "modEx", "timestampNanoOffset"])),
            ]),
            "EventSession": described(object([
                "id": string, "channelId": string, "userId": described(nullable(string), "The channel's owner (kept when the channel is deleted)"),
                "nodeId": string, "startedAt": dateTime, "endedAt": nullable(dateTime),
                "remoteAddr": string, "encoder": string, "videoCodec": nullable(string), "audioCodec": nullable(string),
                "bytesIn": integer, "videoFrames": integer, "audioFrames": integer,
                "reason": nullable(oneOf(OfflineReason.allCases.map(\.rawValue))), "connections": array(ref("EventSessionConnection")),
                "media": described(nullable(ref("SessionMedia")), "The tracks channel.media reported (null until then)"),
                "health": described(ref("HealthSeconds"), "Seconds the stream spent in each health state, over its ended connections"),
            ]), "A publish session, over all its connections (figures so far while it runs)."),
            "MediaVideoTrack": object([
                "codec": described(string, "h264, hevc, av1, vp9 …"), "profile": nullable(string), "level": nullable(integer),
                "width": nullable(integer), "height": nullable(integer),
                "frameRate": described(nullable(number), "From the SPS timing, else onMetaData's framerate, else measured"),
                "bitDepth": described(nullable(integer), "Luma bit depth (8, 10, 12) from the sequence header (HEVC, AV1, VP9)"),
                "chromaFormat": described(nullable(oneOf(["4:0:0", "4:2:0", "4:2:2", "4:4:4"])), "From the sequence header (HEVC, AV1, VP9)"),
            ]),
            "MediaAudioTrack": object(["codec": described(string, "aac, mp3, opus …"), "sampleRate": nullable(integer), "channels": nullable(integer)]),
            "SessionMedia": object(["video": nullable(ref("MediaVideoTrack")), "audio": nullable(ref("MediaAudioTrack"))]),
            "EventVideo": object([
                "id": string, "channelId": string, "userId": string, "sessionId": nullable(string), "name": string,
                "durationSec": number, "sizeBytes": integer, "videoCodec": nullable(string), "audioCodec": nullable(string),
                "width": nullable(integer), "height": nullable(integer), "createdAt": dateTime,
            ]),
            "EventNode": described(object([
                "id": string, "addresses": array(string), "version": string, "startedAt": dateTime, "heartbeatAt": dateTime,
            ]), "A node of the fleet as its heartbeat row has it."),
            "EventWebhook": described(object([
                "id": string, "url": string, "events": array(string), "channelIds": array(string), "userIds": array(string),
                "enabled": boolean, "createdAt": dateTime, "updatedAt": dateTime, "failingSince": nullable(dateTime),
                "disabledAt": nullable(dateTime), "disabledReason": nullable(string),
                "previousSecretExpiresAt": described(nullable(dateTime), "After a rotation: until when the replaced secret still signs beside the new one"),
            ]), "The webhook, without its secret."),
        ]
    }

    /// Each event type's `data`.
    static var data: [(EventType, String, JSONValue)] {
        [
            (.channelLive, "A publisher was accepted and its session recorded.",
             object(["channel": ref("EventChannel"), "session": ref("EventSession")])),
            (.channelOffline, "A session ended; `session.reason` says why (null channel: it was deleted).",
             object(["channel": nullable(ref("EventChannel")), "session": ref("EventSession")])),
            (.channelPublishRejected, "A publish was refused. `channel` is absent for an unknown key or application; `limit` names the user limit "
                + "that refused it. key_rotated (a key reset-key retired in the last day, channel named) and unknown_app (app names the application asked for) "
                + "are recorded at most once per address and minute.",
             object(["reason": described(string, "unknown_key, key_rotated, unknown_app, disabled, duplicate, limit_exceeded, limit_cooldown or unavailable"),
                     "status": described(string, "The status the publisher got, e.g. NetStream.Publish.BadName or NetConnection.Connect.Rejected"),
                     "remoteAddr": string, "channel": ref("EventChannel"), "limit": oneOf(UserLimit.allCases.map(\.rawValue)),
                     "app": described(string, "unknown_app: the application the connect named")],
                    required: ["reason", "status", "remoteAddr"])),
            (.channelLimitExceeded, "A user limit was exceeded during a session, which is then disconnected.",
             object(["channel": ref("EventChannel"), "session": ref("EventSession"), "limit": oneOf(UserLimit.allCases.map(\.rawValue)),
                     "configured": described(anyValue, "The limit's configured value"), "value": described(anyValue, "The measured value")])),
            (.channelDisconnected, "The publisher dropped (connection closed or media timeout): the channel is reconnecting until windowEndsAt; "
                + "the same key publishing before then continues the session (channel.reconnected), otherwise channel.offline follows, ended at leftAt.",
             object(["channel": nullable(ref("EventChannel")), "session": ref("EventSession"), "nodeId": string,
                     "reason": described(nullable(string), "What channel.offline will say if nobody comes back: connection_closed, media_timeout, or shutdown (its node stopped and handed the session over)"),
                     "leftAt": described(nullable(dateTime), "When the publisher left (its last media for a media timeout)"),
                     "windowEndsAt": nullable(dateTime)])),
            (.channelReconnected, "A publisher came back inside the reconnect window: the same session goes on (no offline/live pair).",
             object(["channel": nullable(ref("EventChannel")), "session": ref("EventSession"), "nodeId": string,
                     "remoteAddr": described(string, "Present when the publisher came back through another node")],
                    required: ["channel", "session", "nodeId"])),
            (.channelMedia, "A publisher's tracks, once its first sequence headers were parsed (within about a second of Publish.Start); "
                + "sent again only when a reconnecting publisher brings other tracks.",
             object(["channel": nullable(ref("EventChannel")), "session": ref("EventSession"),
                     "video": nullable(ref("MediaVideoTrack")), "audio": nullable(ref("MediaAudioTrack"))])),
            (.channelHealthChanged, "A live stream's health changed (docs/contract.md §4, \"Stream health\"): at most one per channel per "
                + "health.eventIntervalSec (30 s); the state at the end of a burst is always sent.",
             object(["channel": nullable(ref("EventChannel")), "sessionId": string, "nodeId": string,
                     "health": oneOf(HealthState.allCases.map(\.rawValue)), "previous": oneOf(HealthState.allCases.map(\.rawValue)),
                     "reasons": described(array(string), "Why, e.g. \"fps 17 of 30\", \"keyframe interval 8.0 s\" (empty when healthy)"),
                     "figures": ref("StreamHealth")])),
            (.videoReady, "A recording is finished, verified and on record (null channel: it was deleted).",
             object(["channel": nullable(ref("EventChannel")), "video": ref("EventVideo")])),
            (.videoDeleted, "A recording and its file were deleted: through the API, or by recordings.retentionDays (reason).",
             object(["channel": nullable(ref("EventChannel")), "video": ref("EventVideo"), "reason": oneOf(["deleted", "retention"])])),
            (.forwardFailed, "A push target kept failing (forwards.failureThreshold attempts in a row).",
             object(["channel": nullable(ref("EventChannel")), "forward": object(["id": string, "url": string]), "sessionId": string,
                     "error": string, "attempts": integer])),
            (.webhookPing, "Sent by POST /v1/webhooks/{id}/test to that webhook only; not in the event log (its seq is 0).",
             object(["webhookId": string])),
            (.nodeJoined, "A node registered (it started), or its heartbeat came back after node.lost.",
             object(["node": ref("EventNode"), "rejoined": described(boolean, "true: it had been taken for lost")])),
            (.nodeLost, "A node's heartbeat is older than 15 s (crashed or cut off); sent once, by whichever node saw it first. "
                + "Its live sessions end with node_lost; its reconnecting ones wait out their window.",
             object(["node": ref("EventNode")])),
            (.webhookDisabled, "A webhook whose every delivery failed for webhooks.disableAfterDays was disabled; sent to the other webhooks.",
             object(["webhook": ref("EventWebhook"), "reason": string, "lastError": string])),
        ]
    }

    static func schemaName(_ type: EventType) -> String {
        type.rawValue.split(whereSeparator: { $0 == "." || $0 == "_" }).map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined() + "Event"
    }

    /// Components: the parts, one schema per event, and `Event` (any of them, by `type`).
    static var components: [String: JSONValue] {
        var schemas = parts
        for (type, summary, data) in Self.data {
            schemas[schemaName(type)] = described(object([
                "id": described(string, "evt_…; the webhook-id header, the same on every retry"),
                "type": .object(["const": .string(type.rawValue)]),
                "createdAt": dateTime,
                "seq": described(integer, "Position in the event log: gapless and in commit order"),
                "data": data,
            ]), summary)
        }
        schemas["Event"] = .object([
            "oneOf": .array(EventType.allCases.map { ref(schemaName($0)) }),
            "discriminator": .object(["propertyName": .string("type"), "mapping": .object(Dictionary(uniqueKeysWithValues:
                EventType.allCases.map { ($0.rawValue, JSONValue.string("#/components/schemas/\(schemaName($0))")) }))]),
        ])
        schemas["EventPage"] = object(["items": array(ref("Event")), "nextCursor": nullable(string)])
        return schemas
    }

    /// OpenAPI 3.1 `webhooks`: what each receiver is POSTed, signed as Standard Webhooks.
    static var webhooks: [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for (type, summary, _) in data {
            out[type.rawValue] = .object(["post": .object([
                "operationId": .string("on" + schemaName(type).dropLast("Event".count)),
                "summary": .string(summary),
                "description": .string("POSTed as JSON with Standard Webhooks headers (webhook-id = the event id, webhook-timestamp, "
                    + "webhook-signature: v1,BASE64(HMAC-SHA256(secret, id.timestamp.body))). Any 2xx within 5 s is delivered; "
                    + "otherwise retried at ≈ 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then every 2 h for 24 h. Per channel in order; at least once."),
                "parameters": .array(["webhook-id", "webhook-timestamp", "webhook-signature"].map { name in
                    .object(["name": .string(name), "in": .string("header"), "required": .bool(true), "schema": string])
                }),
                "requestBody": .object(["required": .bool(true), "content": .object(["application/json": .object(["schema": ref(schemaName(type))])])]),
                "responses": .object(["2XX": .object(["description": .string("Delivered")])]),
            ])])
        }
        return out
    }
}
