import LiveGateModel
import ChannelStore

/// The API's own objects in the OpenAPI document: what each answer's `data` is and what each
/// request body may hold. Written from the renderers (`JSONRendering.swift`, `ChannelStats`,
/// `SessionRecord.json` …) and the field checks (`channelFields`, `webhookFields`,
/// `putUserConfig` …, whose rules come from `InputRules`); schemathesis, driven by this
/// document against the real gateway (`OpenAPIContractTests`), reports any answer that does
/// not match and any request the two disagree on.
enum OpenAPIResourceSchemas: JSONSchemaVocabulary {
    static var name: JSONValue { text(InputRules.namePattern, max: 200) }
    static var tokenName: JSONValue { described(nullable(text(InputRules.namePattern, max: 100)), "What the operator calls the token") }
    static var tokenExpiry: JSONValue { described(nullable(dateTime), "RFC 3339, in the future: after it the token no longer authenticates (401)") }
    static var userId: JSONValue { described(text(InputRules.userIdPattern, max: 128), "NFC-normalised; no whitespace or control character at the ends") }
    static func token(_ max: Int) -> JSONValue { text(InputRules.tokenPattern, max: max) }

    // MARK: Answers

    static var answers: [String: JSONValue] {
        let channelProperties: [String: JSONValue] = [
            "id": string, "userId": string, "name": string, "description": string, "tags": array(string),
            "streamUrl": described(string, "rtmp://HOST:PORT/APP: where to publish"),
            "streamId": described(nullable(string), "The stream key: a secret, shown only by the API (null to a read-only stats:read token)"),
            "status": oneOf(Channel.Status.allCases.map(\.rawValue)), "enabled": boolean, "hls": boolean, "record": boolean,
            "reconnectWindowSec": integer, "duplicatePolicy": oneOf(Channel.DuplicatePolicy.allCases.map(\.rawValue)),
            "metadata": .object(["type": .string("object")]), "createdAt": dateTime, "updatedAt": dateTime, "lastLiveAt": nullable(dateTime),
            "session": nullable(ref("ChannelSession")),
            "playback": object(["hlsUrl": described(nullable(string), "Where players read it (publicHttpUrl/hls/ID/index.m3u8); null when hls is off. A signed channel needs ?token=")]),
            "playbackPolicy": oneOf(Channel.PlaybackPolicy.allCases.map(\.rawValue)),
            "renditions": described(nullable(array(ref("Rendition"))), "What OBS Enhanced Broadcasting is asked to encode; null: automatic"),
            "cooldownUntil": described(nullable(dateTime), "A limit ended the last session: publishes are refused until then (cleared by raising the limit or POST clear-cooldown)"),
            "cooldownLimit": described(nullable(oneOf(UserLimit.allCases.map(\.rawValue))), "The limit that started the cooldown"),
        ]
        let output = object(["kind": oneOf(["hls", "record", "forward"]), "id": nullable(string), "state": string, "droppedPackets": integer,
                             "packetsWritten": integer, "attempts": integer, "lastError": nullable(string),
                             "notCarried": described(array(string), "Tracks this output cannot take, each with why")])
        let usage = object(["used": integer, "limit": nullable(integer)])
        var schemas: [String: JSONValue] = [
            "Health": object(["status": .object(["const": .string("ok")]),
                              "nodeId": .object(["type": .string("string"), "description": .string("The node that answered (check-config recognises its own running node by it).")])]),
            "Readiness": object(["status": .object(["const": .string("ready")]), "store": oneOf(["sqlite", "postgres"])]),
            "IngestReadiness": object(["status": .object(["const": .string("ready")])]),
            "ChannelSession": described(object(["id": string, "startedAt": dateTime, "remoteAddr": string, "encoder": string], required: ["id"]),
                                        "The running session (all four fields when read one by one or listed; its id in other answers)."),
            "Channel": described(object(channelProperties), "A channel: what a broadcaster publishes to, with its stream key."),
            "ChannelPage": page(ref("Channel")),
            "ChannelStats": described(object([
                "status": string, "sessionId": nullable(string), "uptimeSec": number, "bytesIn": integer, "videoFrames": integer,
                "audioFrames": integer, "bitrateKbps": described(number, "Over the last second"), "bitrateKbps10s": number, "fps": number,
                "keyframeIntervalSec": nullable(number),
                "video": nullable(ref("VideoParameters")),
                "audio": nullable(ref("AudioParameters")),
                "timestampRepairs": integer, "avDriftMs": nullable(integer), "outputs": array(ref("Output")),
                "tracks": described(array(ref("Track")), "Every track, video first; track 0 of each kind is also `video`/`audio`"),
                "health": described(nullable(ref("StreamHealth")), "While a publisher is connected"),
            ]), "Measured from the media itself, not taken from the publisher's metadata."),
            "Rendition": object([
                "width": .object(["type": .string("integer"), "minimum": .number(16), "maximum": .number(7680), "multipleOf": .number(2)]),
                "height": .object(["type": .string("integer"), "minimum": .number(16), "maximum": .number(4320), "multipleOf": .number(2)]),
                "bitrateKbps": integer(100...100_000),
                "fps": orNull(described(.object(["type": .string("number"), "minimum": .number(1), "maximum": .number(240)]),
                                        "1–240; null: the encoder's own rate")),
            ], required: ["width", "height", "bitrateKbps"]),
            "GoLiveRequest": described(object([
                "service": string, "schema_version": oneOf(GoLiveConfig.schemaVersions),
                "authentication": described(.object(["type": .string("string"), "minLength": .number(1), "maxLength": .number(256)]), "The stream key"),
                "stream_attempt_start_time": string,
                "client": object([:], open: true), "capabilities": object([:], open: true), "preferences": object([:], open: true),
            ], required: ["schema_version", "authentication"], open: true), "What OBS sends (GoLiveApi::PostData); capabilities and preferences as OBS fills them."),
            "GoLiveConfig": described(object([
                "meta": object(["service": string, "schema_version": string, "config_id": string]),
                "status": object(["result": oneOf(["success", "warning", "error"]), "html_en_us": nullable(string)]),
                "ingest_endpoints": array(object(["protocol": string, "url_template": string])),
                "encoder_configurations": array(object([:], open: true)),
                "audio_configurations": object(["live": array(object([:], open: true))]),
            ]), "OBS's GoLiveApi::Config, in the client's schema version; status.result error (the same answer for any key that may not go live) carries no renditions."),
            "ReconnectRequested": described(object([
                "channelId": string, "nodeId": described(string, "The node that holds the publisher and asked it"),
                "validUntil": described(nullable(dateTime), "Until when the publisher may take its session over (null: asked through another node)"),
            ]), "The publisher was asked to reconnect."),
            "Output": described(output, "One output of a live session: HLS, the recording or a forward."),
            "VideoParameters": object(["codec": string, "profile": nullable(string), "level": nullable(integer), "width": nullable(integer),
                                       "height": nullable(integer), "bitDepth": nullable(integer),
                                       "chromaFormat": nullable(oneOf(["4:0:0", "4:2:0", "4:2:2", "4:4:4"])),
                                       "dynamicRange": described(nullable(oneOf(["SDR", "PQ", "HLG"])), "From an Enhanced-RTMP colour metadata packet (HLS VIDEO-RANGE)"),
                                       "colorPrimaries": nullable(integer), "transferCharacteristics": nullable(integer),
                                       "matrixCoefficients": nullable(integer)]),
            "AudioParameters": object(["codec": string, "sampleRate": nullable(integer), "channels": nullable(integer),
                                       "channelLayout": described(nullable(string), "From an Enhanced-RTMP MultichannelConfig")]),
            "UsageBucket": described(object([
                "start": dateTime, "end": dateTime,
                "minutesStreamed": described(number, "Session time in the bucket (a session across an edge counts in each bucket for its time there)"),
                "sessions": described(integer, "Sessions that started in the bucket"),
                "bytesIngested": described(integer, "Bytes received, a session's shared out by its time in each bucket"),
                "peakConcurrentLive": described(integer, "The most channels live at once"),
                "rejections": described(.object(["type": .string("object"), "additionalProperties": integer]), "Refused publishes by reason"),
                "limitEvents": described(.object(["type": .string("object"), "additionalProperties": integer]), "channel.limit_exceeded by limit"),
                "minutesDegraded": number, "minutesStarving": number,
            ]), "One UTC hour or day, clipped to the range."),
            "UsageReport": described(object([
                "from": dateTime, "to": described(dateTime, "The end answered: the asked one, or the end of the 1,000th bucket"),
                "nextFrom": described(nullable(dateTime), "Where the rest of a range longer than 1,000 buckets starts (ask again from there)"),
                "bucket": oneOf(UsageQuery.Bucket.allCases.map(\.rawValue)),
                "userId": nullable(string), "channelId": nullable(string), "buckets": array(ref("UsageBucket")),
                "totals": described(ref("UsageBucket"), "The whole range (peakConcurrentLive: the highest bucket's)"),
            ]), "docs/api.md, \"Insights\""),
            "StatsHistory": described(object([
                "channelId": string, "status": string, "windowSec": number, "intervalSec": integer,
                "sessionId": described(nullable(string), "The session the points are of (the channel's latest; null: none kept)"),
                "nodeId": described(nullable(string), "The node that measured them"), "updatedAt": nullable(dateTime),
                "points": array(ref("StatsPoint")),
            ]), "docs/contract.md §4, \"Stats history\": kept in memory for the last hour of live and recently live channels."),
            "StatsPoint": object([
                "at": described(dateTime, "End of the 10 s the point covers (UTC, a multiple of 10 s)"), "bitrateKbps": number,
                "videoKbps": number, "audioKbps": number, "fps": described(number, "Video frames received per second"),
                "keyframeIntervalSec": nullable(number), "health": described(oneOf(HealthState.allCases.map(\.rawValue)), "The worst state in the 10 s"),
                "droppedPackets": described(integer, "Packets the outputs dropped in the 10 s"),
            ]),
            "StreamHealth": described(object([
                "state": oneOf(HealthState.allCases.map(\.rawValue)), "reasons": array(string), "since": dateTime,
                "receivedFps": described(nullable(number), "Frames received per second over the health window (10 s)"),
                "streamFps": described(nullable(number), "The stream's own rate: declared, else from its timestamps"),
                "videoKbps": nullable(number), "audioKbps": nullable(number),
                "keyframeIntervalSec": described(nullable(number), "The last interval, or the open one if longer"),
                "medianKeyframeIntervalSec": nullable(number), "avDriftMs": nullable(integer),
                "timestampLagMs": described(nullable(integer), "How far the stream's timestamps fall behind the wall clock since the connection's first frame"),
                "droppedPackets": integer, "seconds": ref("HealthSeconds"),
            ]), "docs/contract.md §4, \"Stream health\""),
            "Track": described(object([
                "trackId": integer, "kind": oneOf(["video", "audio"]), "codec": string, "bitrateKbps": described(number, "Over the last 10 s"),
                "frames": integer, "frameRate": nullable(number), "keyframeIntervalSec": nullable(number),
                "width": nullable(integer), "height": nullable(integer),
                "video": nullable(ref("VideoParameters")), "audio": nullable(ref("AudioParameters")),
                "aligned": described(nullable(boolean), "Video tracks other than 0: keyframes within a frame of track 0's"),
                "inOutputs": described(boolean, "False for a track that appeared after the outputs were laid out (it joins at the next session)"),
            ]), "One track of an Enhanced-RTMP publish (track 0 alone for a classic one)."),
            "SessionPage": page(ref("EventSession")),
            "System": object([
                "version": string, "nodeId": string, "ports": object(["rtmp": integer, "http": integer]), "rtmpApp": string,
                "store": oneOf(["sqlite", "postgres"]), "codecs": object(["video": array(string), "audio": array(string)]), "uptimeSec": number,
                "nodes": described(nullable(array(ref("Node"))), "Every node sharing the store (null while it cannot be read)"),
            ]),
            "Node": described(object([
                "id": string, "addresses": array(string), "version": string, "startedAt": dateTime, "heartbeatAt": dateTime,
                "healthy": described(boolean, "A heartbeat within cluster.leaseTtlSec (5 s): the life its sessions' leases have"), "self": described(boolean, "The node that answered"),
                "advertiseUrl": described(nullable(string), "Where the other nodes fetch its HLS files and recordings (cluster.advertiseUrl)"),
            ]), "A gateway node: a heartbeat every 2 s."),
            "Drain": described(object([
                "nodeId": string, "draining": boolean,
                "publishers": described(integer, "Publishers this node carries now; each is handed over when it stops"),
                "stopsBy": described(dateTime, "When the node stops at the latest (shutdown.drainSec after the first call)"),
            ]), "A drain under way."),
            "SystemStats": object([
                "connections": integer, "liveChannels": integer, "ingestBitrateKbps": number, "cpuSeconds": number, "memoryRssBytes": number,
                "uptimeSec": number, "store": object(["backend": oneOf(["sqlite", "postgres"]), "healthy": boolean]),
            ]),
            "UserConfig": described(object([
                "userId": string, "maxChannels": nullable(integer), "maxConcurrentLive": nullable(integer), "maxBitrateKbps": nullable(integer),
                "maxWidth": nullable(integer), "maxHeight": nullable(integer), "maxFps": nullable(number), "maxSessionSec": nullable(integer),
                "allowedVideoCodecs": nullable(array(string)), "retentionDays": nullable(integer),
            ]), "A user's limits; null = the server default (none)."),
            "Usage": object(["userId": string, "channels": usage, "liveChannels": usage,
                             "storage": described(object(["videos": integer, "bytes": integer, "retentionDays": nullable(integer)]),
                                                  "Recordings kept, their bytes on disk, and after how many days they are deleted (null: never)")]),
        ]
        // The webhook as the API shows it is the one events carry (no secret); the 201 adds it once.
        schemas["Webhook"] = OpenAPIEventSchemas.parts["EventWebhook"]
        schemas["WebhookCreated"] = described(adding(OpenAPIEventSchemas.parts["EventWebhook"] ?? anyValue, "secret",
                                                      described(string, "whsec_…: shown once, in this answer")),
                                              "The new webhook with its signing secret (Standard Webhooks), shown only here.")
        schemas["WebhookPage"] = page(ref("Webhook"))
        schemas["WebhookRotated"] = described(adding(OpenAPIEventSchemas.parts["EventWebhook"] ?? anyValue, "secret",
                                                      described(string, "whsec_…: the new secret, shown once, in this answer")),
                                              "The webhook with its new signing secret; the old one signs beside it until previousSecretExpiresAt.")
        schemas["PlaybackTokenCreate"] = described(object(["expiresInSec": described(integer(1...604_800), "Lifetime (default 3600)")], required: []),
                                                   "Optional; an empty body takes the defaults.")
        schemas["PlaybackToken"] = object(["token": described(string, "Put in ?token= of the playlist URL; segments carry it on"), "keyId": string,
                                           "channelId": string, "expiresAt": dateTime, "hlsUrl": described(string, "The playlist URL with the token")])
        schemas["SigningKey"] = object(["id": string, "createdAt": dateTime])
        schemas["SigningKeyCreated"] = described(adding(object(["id": string, "createdAt": dateTime]), "secret",
                                                        described(string, "base64url (no padding) of 32 bytes: the HMAC-SHA256 key, shown once")),
                                                 "A playback signing key; the App Server may mint tokens with it (docs/api.md, Playback).")
        schemas["SigningKeyPage"] = page(ref("SigningKey"))
        schemas["WebhookRotate"] = described(object(["overlapSec": described(integer(0...604_800), "How long the old secret keeps signing (default webhooks.secretOverlapSec)")],
                                                    required: []), "Optional; an empty body takes the defaults.")
        schemas["Delivery"] = object([
            "id": string, "webhookId": string, "eventId": string, "eventType": string, "eventSeq": integer, "attempt": integer,
            "state": oneOf(DeliveryRecord.State.allCases.map(\.rawValue)), "statusCode": nullable(integer), "latencyMs": nullable(integer),
            "responseExcerpt": nullable(string), "nextAttemptAt": nullable(dateTime), "createdAt": dateTime, "updatedAt": dateTime,
        ])
        schemas["DeliveryPage"] = page(ref("Delivery"))
        schemas["RedeliveryQueued"] = object(["id": string, "state": .object(["const": .string("pending")])])
        schemas["WebhookTestResult"] = described(object([
            "delivered": boolean, "latencyMs": integer, "statusCode": nullable(integer), "responseExcerpt": nullable(string),
            "eventId": string, "deliveryId": string,
        ]), "What the receiver answered to the webhook.ping sent now.")
        schemas["Forward"] = object(["id": string, "channelId": string, "url": string, "enabled": boolean, "enhanced": boolean, "createdAt": dateTime,
                                     "updatedAt": dateTime, "status": described(nullable(ref("Output")), "Its output while the channel is live")])
        schemas["ForwardPage"] = page(ref("Forward"))
        schemas["Video"] = adding(adding(OpenAPIEventSchemas.parts["EventVideo"] ?? anyValue,
                                         "nodeId", described(nullable(string), "The node whose disk holds the file (null: recorded before nodes were recorded); any node serves it")),
                                  "fileAvailable", described(boolean, "False once the file's node is gone for good (removed by the operator, or absent for cluster.nodeGoneAfterHours): the download answers 404 (4041)"))
        schemas["VideoPage"] = page(ref("Video"))
        schemas["SearchPage"] = page(.object(["oneOf": .array([
            adding(object(channelProperties), "type", .object(["const": .string("channel")])),
            adding(OpenAPIEventSchemas.parts["EventVideo"] ?? anyValue, "type", .object(["const": .string("video")])),
        ])]))
        let tokenProperties: [String: JSONValue] = ["id": string, "scopes": array(oneOf(TokenScope.allCases.map(\.rawValue))),
                                                     "userId": nullable(string), "createdAt": dateTime, "lastUsedAt": nullable(dateTime),
                                                     "name": nullable(string), "expiresAt": described(nullable(dateTime), "After this it no longer authenticates (401)")]
        schemas["Token"] = object(tokenProperties)
        schemas["TokenCreated"] = described(adding(object(tokenProperties), "secret", described(string, "Shown once, in this answer")),
                                            "The new token; authenticate as Basic id:secret.")
        schemas["TokenPage"] = page(ref("Token"))
        return schemas
    }

    // MARK: Request bodies

    static var requests: [String: JSONValue] {
        let channelFields: [String: JSONValue] = [
            "name": name, "userId": userId,
            "description": orNull(text(InputRules.textPattern, min: 0, max: 2000)),
            "tags": orNull(array(token(64), maxItems: 20)),
            "enabled": orNull(boolean), "hls": orNull(boolean), "record": orNull(boolean),
            "reconnectWindowSec": orNull(described(integer(0...300), "Seconds a dropped publisher may come back within, as the same session")),
            "duplicatePolicy": orNull(oneOf(Channel.DuplicatePolicy.allCases.map(\.rawValue))),
            "metadata": orNull(described(.object(["type": .string("object")]), "Free JSON, at most 16 KiB; PATCH merges it (RFC 7396)")),
            "playbackPolicy": orNull(described(oneOf(Channel.PlaybackPolicy.allCases.map(\.rawValue)), "public (default): anyone with the URL plays; signed: only with a playback token")),
            "renditions": orNull(described(array(ref("Rendition"), maxItems: 5, minItems: 1),
                                           "What OBS Enhanced Broadcasting is asked to encode (POST /v1/obs/go-live); null: a ladder fitted to the encoder and the owner's limits")),
        ]
        let webhookFields: [String: JSONValue] = [
            "url": described(text(InputRules.webhookURLPattern, max: 2048), "Receiver; with webhooks.blockPrivateNetworks, never a private address"),
            "events": orNull(described(array(oneOf(Webhook.eventTypes), maxItems: 16), "Empty or null: every event")),
            "channelIds": orNull(array(token(128), maxItems: 1000)), "userIds": orNull(array(userId, maxItems: 1000)),
            "enabled": orNull(boolean),
        ]
        let forwardFields: [String: JSONValue] = [
            "url": described(text(InputRules.forwardURLPattern, max: 2048), "rtmp(s)://host[:port]/app/streamKey"),
            "enabled": orNull(boolean),
            "enhanced": described(orNull(boolean), "The target speaks Enhanced RTMP: it gets every track and codec (default false: track 0, classic FLV codecs)"),
        ]
        var limits: [String: JSONValue] = [
            "maxChannels": orNull(integer(0...1_000_000)), "maxConcurrentLive": orNull(integer(0...100_000)),
            "maxBitrateKbps": orNull(described(integer(1...1_000_000), "Sustained over 10 s")), "maxWidth": orNull(integer(16...16384)),
            "maxHeight": orNull(integer(16...16384)), "maxSessionSec": orNull(integer(1...31_536_000)),
            "allowedVideoCodecs": orNull(array(oneOf(["h264", "hevc", "av1", "vp9"]), maxItems: 8)),
            "retentionDays": orNull(described(integer(1...36_500), "Recordings older than this are deleted (video.deleted); null: recordings.retentionDays")),
        ]
        limits["maxFps"] = orNull(.object(["type": .string("number"), "minimum": .number(1), "maximum": .number(1000)]))
        let scopes = TokenScope.allCases.map(\.rawValue)
        let bound = TokenScope.userBound.map(\.rawValue).sorted()
        return [
            "ChannelCreate": described(object(channelFields, required: ["name", "userId"]),
                                       "POST and PUT: name and userId required; every other field takes its default when absent or null."),
            "ChannelPatch": described(object(channelFields, required: []), "JSON Merge Patch (RFC 7396): fields present change; null restores a default."),
            "WebhookCreate": object(webhookFields, required: ["url"]),
            "WebhookPatch": described(object(webhookFields, required: []), "JSON Merge Patch: null restores a default (every event, channel, user; enabled)."),
            "ForwardCreate": object(forwardFields, required: ["url"]),
            "ForwardPatch": object(forwardFields, required: []),
            "UserConfigInput": described(object(limits, required: []), "Every limit; absent or null = the server default (none)."),
            "TokenCreate": described(.object(["anyOf": .array([
                object(["scopes": array(oneOf(scopes), maxItems: scopes.count, minItems: 1), "userId": .object(["type": .string("null")]),
                        "name": tokenName, "expiresAt": tokenExpiry], required: ["scopes"]),
                object(["scopes": array(oneOf(bound), maxItems: scopes.count, minItems: 1), "userId": userId, "name": tokenName, "expiresAt": tokenExpiry],
                       required: ["scopes", "userId"]),
            ])]), "A token bound to a userId may hold only " + bound.joined(separator: ", ") + "."),
        ]
    }

    // MARK: Errors

    /// The error envelope of one HTTP status: its `ec` codes (docs/contract.md §4) and `data` details.
    static func error(_ codes: [Int]) -> JSONValue {
        object([
            "ec": .object(["type": .string("integer"), "enum": .array(codes.map { .number(Double($0)) })]),
            "msg": described(string, "What went wrong, for people"),
            "data": nullable(ref("ErrorDetails")),
        ])
    }

    static var errorDetails: JSONValue {
        described(object([
            "fields": described(.object(["type": .string("object"), "additionalProperties": string]), "Each offending field and why (422, 400)"),
            "unknownParameters": array(string), "limit": string, "cap": string, "max": integer,
        ], required: [], open: true), "Details of an error, when there are any.")
    }
}
