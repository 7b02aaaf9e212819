import LiveGateModel
import ChannelStore
import Foundation

/// API representations (camelCase, docs/contract.md §4).
extension ControlAPI {
    /// The channel with its running session filled in (`id`, `startedAt`, `remoteAddr`, `encoder`).
    func renderLive(_ c: Channel) async throws -> JSONValue {
        guard let sessionId = c.sessionId, case .object(var o) = render(c) else { return render(c) }
        if let s = try await store.session(id: sessionId) {
            o["session"] = .object(["id": .string(s.id), "startedAt": .string(Timestamp.format(s.startedAt)),
                                    "remoteAddr": .string(s.remoteAddr), "encoder": .string(s.encoder)])
        }
        return .object(o)
    }

    func renderLive(_ p: Page<Channel>) async throws -> JSONValue {
        var items: [JSONValue] = []
        for c in p.items { items.append(try await renderLive(c)) }
        return .object(["items": .array(items), "nextCursor": p.nextCursor.map { .string($0) } ?? .null])
    }

    func render(_ c: Channel) -> JSONValue {
        let fields: [String: JSONValue] = [
            "id": .string(c.id), "userId": .string(c.userId), "name": .string(c.name), "description": .string(c.description),
            "tags": .array(c.tags.map { .string($0) }), "streamUrl": .string(configuration.streamUrl), "streamId": .string(c.streamKey),
            "status": .string(c.status.rawValue), "enabled": .bool(c.enabled), "hls": .bool(c.hls), "record": .bool(c.record),
            "reconnectWindowSec": .number(Double(c.reconnectWindowSec)), "duplicatePolicy": .string(c.duplicatePolicy.rawValue),
            "metadata": c.metadata, "createdAt": .string(Timestamp.format(c.createdAt)), "updatedAt": .string(Timestamp.format(c.updatedAt)),
            "lastLiveAt": c.lastLiveAt.map { .string(Timestamp.format($0)) } ?? .null,
            "session": c.sessionId.map { .object(["id": .string($0)]) } ?? .null,
            "playback": .object(["hlsUrl": c.hls ? .string(hlsURL(c.id)) : .null]), "playbackPolicy": .string(c.playbackPolicy.rawValue),
            "renditions": c.renditionsJSON,
        ]
        return .object(c.cooldownJSON(at: Date()).merging(fields) { _, own in own })
    }

    /// The webhook as the API shows it: what events carry (`eventJSON`, no secret), plus the
    /// secret in the one answer that makes it.
    func render(_ w: Webhook, includeSecret: Bool = false) -> JSONValue {
        var o = w.eventJSON.objectValue ?? [:]
        if includeSecret { o["secret"] = .string(w.secret) }
        return .object(o)
    }

    func render(_ v: Video) -> JSONValue { v.json }

    func render(_ f: Forward, status: JSONValue = .null) -> JSONValue {
        .object([
            "id": .string(f.id), "channelId": .string(f.channelId), "url": .string(f.url), "enabled": .bool(f.enabled), "enhanced": .bool(f.enhanced),
            "createdAt": .string(Timestamp.format(f.createdAt)), "updatedAt": .string(Timestamp.format(f.updatedAt)), "status": status,
        ])
    }

    func render(_ l: UserLimits, userId: String) -> JSONValue {
        func n(_ v: Int?) -> JSONValue { v.map { .number(Double($0)) } ?? .null }
        return .object([
            "userId": .string(userId), "maxChannels": n(l.maxChannels), "maxConcurrentLive": n(l.maxConcurrentLive),
            "maxBitrateKbps": n(l.maxBitrateKbps), "maxWidth": n(l.maxWidth), "maxHeight": n(l.maxHeight),
            "maxFps": l.maxFps.map { .number($0) } ?? .null, "maxSessionSec": n(l.maxSessionSec),
            "allowedVideoCodecs": l.allowedVideoCodecs.map { .array($0.map { .string($0) }) } ?? .null,
            "retentionDays": n(l.retentionDays),
        ])
    }

    func page<T>(_ p: Page<T>, _ render: (T) -> JSONValue) -> JSONValue {
        .object(["items": .array(p.items.map(render)), "nextCursor": p.nextCursor.map { .string($0) } ?? .null])
    }
}
