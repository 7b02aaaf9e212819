import LiveGateModel
import ChannelStore
import Foundation
import Hummingbird

extension ControlAPI {
    static let channelWritable: Set<String> = ["userId", "name", "description", "tags", "enabled", "hls", "record",
                                                "reconnectWindowSec", "duplicatePolicy", "metadata", "playbackPolicy", "renditions"]
    static let channelReadOnly: Set<String> = ["id", "streamId", "streamUrl", "status", "createdAt", "updatedAt", "lastLiveAt", "session", "playback"]

    /// Validates channel fields; `requireIdentity` makes `name` and `userId` mandatory (POST, PUT).
    /// `null` puts an optional field back to its default (RFC 7396); `metadata` is returned as
    /// given — PATCH merges it into the stored one (`mergePatch`).
    func channelFields(_ body: inout BodyReader, requireIdentity: Bool) -> ChannelFields {
        body.restrict(to: Self.channelWritable, readOnly: Self.channelReadOnly)
        let defaults = ChannelFields.defaults
        var f = ChannelFields()
        for key in ["name", "userId"] where body.isNull(key) { body.fail(key, "must not be null") }
        f.name = body.string("name", required: requireIdentity, maxLength: 200)
        f.userId = body.userId("userId", required: requireIdentity)
        f.description = body.isNull("description") ? defaults.description : body.string("description", maxLength: 2000, allowEmpty: true, text: true)
        f.tags = body.isNull("tags") ? defaults.tags : body.stringArray("tags", maxCount: 20, maxLength: 64) ?? nil
        f.enabled = body.isNull("enabled") ? defaults.enabled : body.bool("enabled")
        f.hls = body.isNull("hls") ? defaults.hls : body.bool("hls")
        f.record = body.isNull("record") ? defaults.record : body.bool("record")
        f.reconnectWindowSec = body.isNull("reconnectWindowSec") ? defaults.reconnectWindowSec : body.int("reconnectWindowSec", in: 0...300) ?? nil
        if body.isNull("duplicatePolicy") {
            f.duplicatePolicy = defaults.duplicatePolicy
        } else if let raw = body.string("duplicatePolicy") {
            if let p = Channel.DuplicatePolicy(rawValue: raw) { f.duplicatePolicy = p } else { body.fail("duplicatePolicy", "must be reject or replace") }
        }
        if body.isNull("playbackPolicy") {
            f.playbackPolicy = defaults.playbackPolicy
        } else if let raw = body.string("playbackPolicy") {
            if let p = Channel.PlaybackPolicy(rawValue: raw) { f.playbackPolicy = p } else { body.fail("playbackPolicy", "must be public or signed") }
        }
        if body.isNull("renditions") {
            f.renditions = .some(nil)
        } else if let raw = body.object["renditions"] {
            switch Self.renditions(raw) {
            case .success(let list): f.renditions = .some(list)
            case .failure(let problem): body.fail("renditions", problem.reason)
            }
        }
        if let meta = body.object["metadata"] {
            switch meta {
            case .null: f.metadata = defaults.metadata
            case .object: f.metadata = meta
            default: body.fail("metadata", "must be a JSON object")
            }
        }
        return f
    }

    /// `renditions`: 1–5 objects `{width, height, bitrateKbps, fps?}` (even sizes from 16×16 to
    /// 7680×4320, 100–100,000 kbit/s, 1–240 fps), largest first as OBS expects its encoders.
    static func renditions(_ value: JSONValue) -> Result<[Channel.Rendition], GoLiveConfig.FieldProblem> {
        let problem = GoLiveConfig.FieldProblem(field: "renditions",
                                                reason: "1 to 5 objects {width, height, bitrateKbps, fps?}: even sizes 16..7680 × 16..4320, 100..100000 kbit/s, fps 1..240")
        guard case .array(let items) = value, (1...5).contains(items.count) else { return .failure(problem) }
        var list: [Channel.Rendition] = []
        for item in items {
            guard case .object(let o) = item, Set(o.keys).isSubset(of: ["width", "height", "bitrateKbps", "fps"]),
                  let r = Channel.Rendition(json: item), (16...7680).contains(r.width), (16...4320).contains(r.height), r.width % 2 == 0, r.height % 2 == 0,
                  (100...100_000).contains(r.bitrateKbps), r.fps.map({ (1...240).contains($0) }) ?? true,
                  [o["width"], o["height"], o["bitrateKbps"]].allSatisfy({ if case .number(let n)? = $0 { return n == n.rounded() } else { return false } }),
                  // fps: a number, null or absent — another type is refused, not read as absent.
                  { switch o["fps"] { case nil, .null?, .number?: true; default: false } }()
            else { return .failure(problem) }
            list.append(r)
        }
        return .success(list.sorted { $0.width * $0.height > $1.width * $1.height })
    }

    /// RFC 7396 JSON Merge Patch: objects merge member by member, `null` removes a member,
    /// anything else replaces.
    static func mergePatch(_ target: JSONValue, _ patch: JSONValue) -> JSONValue {
        guard case .object(let changes) = patch else { return patch }
        var result: [String: JSONValue] = [:]
        if case .object(let existing) = target { result = existing }
        for (key, value) in changes {
            if case .null = value { result[key] = nil } else { result[key] = mergePatch(result[key] ?? .null, value) }
        }
        return .object(result)
    }

    /// Metadata stays a JSON object of at most 16 KiB (after merging).
    static func metadataProblem(_ metadata: JSONValue?) -> String? {
        guard let metadata else { return nil }
        return metadata.jsonText.utf8.count > 16 * 1024 ? "must be a JSON object of at most 16 KiB" : nil
    }

    func createChannel(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        var body = try await BodyReader.read(request)
        var fields = channelFields(&body, requireIdentity: context.grant?.userId == nil)
        if context.grant?.userId != nil && fields.name == nil && !body.has("name") { body.fail("name", "is required") }
        try checkBoundOwner(&fields, context, creating: true)
        if let problem = Self.metadataProblem(fields.metadata) { body.fail("metadata", problem) }
        try body.check()
        let channel = try await store.createChannel(id: Identifiers.make("ch"), streamKey: Identifiers.streamKey(), fields: fields, now: Date())
        return Envelope.response(.created, data: render(channel))
    }

    func listChannels(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        var query = try QueryReader(request: request).channelQuery()
        let (user, empty) = listUser(query.userId, context)
        if empty { return Envelope.response(data: .object(["items": .array([]), "nextCursor": .null])) }
        query.userId = user
        return Envelope.response(data: Self.withoutStreamKeys(try await renderLive(try await store.listChannels(query)), for: context))
    }

    /// A token bound to a user creates and keeps channels of that user only.
    func checkBoundOwner(_ fields: inout ChannelFields, _ context: APIRequestContext, creating: Bool) throws {
        guard let bound = context.grant?.userId else { return }
        if creating && fields.userId == nil { fields.userId = bound }
        if let userId = fields.userId, userId != bound { throw APIError.invalid(["userId": "must be this token's user"]) }
    }

    /// A `stats:read` token watches channels; it never sees a stream key (`streamId` null).
    static func withoutStreamKeys(_ value: JSONValue, for context: APIRequestContext) -> JSONValue {
        guard context.grant?.isOperatorReadOnly == true else { return value }
        func redact(_ v: JSONValue) -> JSONValue {
            guard case .object(var o) = v else { return v }
            if o["streamId"] != nil { o["streamId"] = .null }
            if case .array(let items)? = o["items"] { o["items"] = .array(items.map(redact)) }
            return .object(o)
        }
        return redact(value)
    }

    func getChannel(_ context: APIRequestContext) async throws -> Response {
        guard let channel = try await store.channel(id: try parameter(context, "id")) else { throw APIError.notFound("channel") }
        return Envelope.response(data: Self.withoutStreamKeys(try await renderLive(channel), for: context))
    }

    /// PUT replaces every writable field (missing ones take their defaults); PATCH changes only
    /// the fields present. Immutable fields are refused with 422 either way.
    func updateChannel(_ request: Request, _ context: APIRequestContext, replace: Bool) async throws -> Response {
        let id = try parameter(context, "id")
        var body = try await BodyReader.read(request)
        var fields = channelFields(&body, requireIdentity: replace && context.grant?.userId == nil)
        if replace && context.grant?.userId != nil && fields.name == nil && !body.has("name") { body.fail("name", "is required") }
        try body.check()
        try checkBoundOwner(&fields, context, creating: replace)
        guard let before = try await store.channel(id: id) else { throw APIError.notFound("channel") }
        if replace {
            fields = fields.filled(from: ChannelFields.defaults)
        } else if let patch = body.object["metadata"], case .object = patch {
            fields.metadata = Self.mergePatch(before.metadata, patch)
        }
        if let problem = Self.metadataProblem(fields.metadata) { throw APIError.invalid(["metadata": problem]) }
        guard let channel = try await store.updateChannel(id: id, fields: fields, now: Date()) else { throw APIError.notFound("channel") }
        playbackCache.forgetChannel(id)
        await sessions.channelEdited(channel)
        if before.enabled && !channel.enabled {
            await sessions.channelChanged(id, change: .disabled)
            return Envelope.response(data: render(await settled(channel)))
        }
        return Envelope.response(data: render(channel))
    }

    func deleteChannel(_ context: APIRequestContext) async throws -> Response {
        let id = try parameter(context, "id")
        guard try await store.deleteChannel(id: id) else { throw APIError.notFound("channel") }
        playbackCache.forgetChannel(id)
        await sessions.channelChanged(id, change: .deleted)
        return Envelope.noContent()
    }

    func resetKey(_ context: APIRequestContext) async throws -> Response {
        let id = try parameter(context, "id")
        guard let channel = try await store.resetStreamKey(id: id, newKey: Identifiers.streamKey(), now: Date()) else { throw APIError.notFound("channel") }
        await sessions.channelChanged(id, change: .keyReset)
        return Envelope.response(data: render(await settled(channel)))
    }

    /// `POST /v1/channels/{id}/clear-cooldown` (docs/contract.md §2, "Limits"): the stored
    /// cooldown goes, and every node's machine drops its copy (`channelEdited`).
    func clearCooldown(_ context: APIRequestContext) async throws -> Response {
        let id = try parameter(context, "id")
        guard let channel = try await store.clearCooldown(channelId: id, now: Date()) else { throw APIError.notFound("channel") }
        await sessions.channelEdited(channel)
        return Envelope.response(data: try await renderLive(channel))
    }

    /// `POST /v1/channels/{id}/reconnect` (docs/contract.md §6, "Moving publishers"): the node
    /// holding the publisher sends it Enhanced RTMP's ReconnectRequest; the publisher connects
    /// anew (to `rtmp.reconnectTcUrl` when set) and its session continues there.
    func reconnectChannel(_ context: APIRequestContext) async throws -> Response {
        let id = try parameter(context, "id")
        guard try await store.channel(id: id) != nil else { throw APIError.notFound("channel") }
        switch await sessions.requestReconnect(id) {
        case .sent(let node, let until):
            return Envelope.response(.accepted, data: .object(["channelId": .string(id), "nodeId": .string(node),
                                                               "validUntil": until.map { .string(Timestamp.format($0)) } ?? .null]))
        case .notLive:
            throw APIError(.conflict, ec: 4090, "the channel has no publisher connected", data: .object(["reason": .string("not_live")]))
        case .notCapable:
            throw APIError(.conflict, ec: 4090, "the publisher's encoder did not declare Reconnect (Enhanced RTMP capsEx) when it connected",
                           data: .object(["reason": .string("not_capable")]))
        }
    }

    func setEnabled(_ context: APIRequestContext, _ enabled: Bool) async throws -> Response {
        let id = try parameter(context, "id")
        guard let channel = try await store.updateChannel(id: id, fields: ChannelFields(enabled: enabled), now: Date()) else {
            throw APIError.notFound("channel")
        }
        guard !enabled else { return Envelope.response(data: render(channel)) }
        await sessions.channelChanged(id, change: .disabled)
        return Envelope.response(data: render(await settled(channel)))
    }

    /// The channel once a change that kicks its publisher has taken effect: the answer to
    /// `/disable` or `/reset-key` of a live channel says `offline`, not the `live` it read just
    /// before the kick. Waits up to 2 s for the session's end to be recorded (a store outage
    /// may delay it: then the channel as it is).
    func settled(_ channel: Channel) async -> Channel {
        guard channel.status != .offline else { return channel }
        let deadline = ContinuousClock.now + .seconds(2)
        var current = channel
        while current.status != .offline, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
            guard let fresh = try? await store.channel(id: channel.id) else { break }
            current = fresh
        }
        return current
    }

    // MARK: Users

    func getUserConfig(_ context: APIRequestContext) async throws -> Response {
        let userId = try userParameter(context)
        return Envelope.response(data: render(try await store.userLimits(userId: userId), userId: userId))
    }

    func putUserConfig(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let userId = try userParameter(context)
        var body = try await BodyReader.read(request)
        body.restrict(to: ["maxChannels", "maxConcurrentLive", "maxBitrateKbps", "maxWidth", "maxHeight", "maxFps", "maxSessionSec",
                           "allowedVideoCodecs", "retentionDays"], readOnly: ["userId"])
        var l = UserLimits()
        l.maxChannels = body.int("maxChannels", in: 0...1_000_000, nullable: true) ?? nil
        l.maxConcurrentLive = body.int("maxConcurrentLive", in: 0...100_000, nullable: true) ?? nil
        l.maxBitrateKbps = body.int("maxBitrateKbps", in: 1...1_000_000, nullable: true) ?? nil
        l.maxWidth = body.int("maxWidth", in: 16...16384, nullable: true) ?? nil
        l.maxHeight = body.int("maxHeight", in: 16...16384, nullable: true) ?? nil
        l.maxFps = body.double("maxFps", in: 1...1000, nullable: true) ?? nil
        l.maxSessionSec = body.int("maxSessionSec", in: 1...31_536_000, nullable: true) ?? nil
        l.allowedVideoCodecs = body.stringArray("allowedVideoCodecs", maxCount: 8, allowed: ["h264", "hevc", "av1", "vp9"], nullable: true) ?? nil
        l.retentionDays = body.int("retentionDays", in: 1...36_500, nullable: true) ?? nil
        try body.check()
        try await store.setUserLimits(userId: userId, l, now: Date())
        await sessions.userLimitsChanged(userId)
        return Envelope.response(data: render(l, userId: userId))
    }

    func getUsage(_ context: APIRequestContext) async throws -> Response {
        let userId = try userParameter(context)
        let usage = try await store.usage(userId: userId)
        let limits = try await store.userLimits(userId: userId)
        func n(_ v: Int?) -> JSONValue { v.map { .number(Double($0)) } ?? .null }
        return Envelope.response(data: .object([
            "userId": .string(userId),
            "channels": .object(["used": .number(Double(usage.channels)), "limit": n(limits.maxChannels)]),
            "liveChannels": .object(["used": .number(Double(usage.liveChannels)), "limit": n(limits.maxConcurrentLive)]),
            "storage": .object(["videos": .number(Double(usage.videos)), "bytes": .number(Double(usage.videoBytes)),
                                "retentionDays": n(limits.retentionDays ?? configuration.retentionDays)]),
        ]))
    }

    // MARK: Search and events

    func search(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let query = QueryReader(request: request)
        let type = query.string("type") ?? "channel"
        var q = try query.channelQuery()
        if type == "video" { try context.grant?.require(.videos) }
        let (user, empty) = listUser(q.userId, context)
        if empty { return Envelope.response(data: .object(["items": .array([]), "nextCursor": .null])) }
        q.userId = user
        switch type {
        case "channel":
            return Envelope.response(data: page(try await store.listChannels(q)) { c in
                if case .object(var o) = render(c) { o["type"] = .string("channel"); return .object(o) }
                return .null
            })
        case "video":
            return Envelope.response(data: page(try await store.searchVideos(q)) { v in
                if case .object(var o) = render(v) { o["type"] = .string("video"); return .object(o) }
                return .null
            })
        default:
            throw APIError.badRequest("type must be channel or video")
        }
    }

    /// The event log: items are exactly the webhook bodies (`{id, type, createdAt, seq, data}`),
    /// oldest first. `after=SEQ` is the poller's position (gapless, commit-ordered `seq`, so
    /// nothing is ever skipped); `cursor` pages like every list.
    func events(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        guard let eventQuery = try eventQuery(request, context) else {
            return Envelope.response(data: .object(["items": .array([]), "nextCursor": .null]))
        }
        return Envelope.response(data: page(try await store.events(eventQuery)) { $0.payload })
    }

    /// The filters of `/v1/events` and its stream; nil when a bound token asked for another user (nothing to list).
    func eventQuery(_ request: Request, _ context: APIRequestContext) throws -> EventQuery? {
        let query = QueryReader(request: request)
        var after: Int64 = 0
        if let raw = query.string("after") {
            guard let n = Int64(raw), n >= 0 else { throw APIError.badRequest("after must be a non-negative integer") }
            after = n
        }
        var types: [String] = []
        if let raw = query.string("type") {
            types = raw.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            let logged = Set(EventType.logged.map(\.rawValue))
            if let bad = types.first(where: { !logged.contains($0) }) {
                throw APIError.badRequest("type: '\(bad.prefix(64))' is not a logged event type (\(EventType.logged.map(\.rawValue).joined(separator: ", ")))")
            }
        }
        let (user, empty) = listUser(try query.userId(), context)
        if empty { return nil }
        return EventQuery(after: after, types: types, channelId: query.string("channelId"), userId: user,
                          from: try query.date("from"), to: try query.date("to"), limit: try query.limit(), cursor: query.string("cursor"))
    }
}
