import LiveGateModel
import ChannelStore
import Foundation
import Hummingbird
import Webhooks

extension ControlAPI {
    func webhookFields(_ body: inout BodyReader, requireURL: Bool) -> WebhookFields {
        body.restrict(to: ["url", "events", "channelIds", "userIds", "enabled"],
                      readOnly: ["id", "secret", "createdAt", "updatedAt", "failingSince", "disabledAt", "disabledReason"])
        var f = WebhookFields()
        if let raw = body.string("url", required: requireURL, maxLength: 2048) {
            if let reason = Self.urlProblem(raw, blockPrivateNetworks: configuration.blockPrivateNetworks) { body.fail("url", reason) } else { f.url = raw }
        }
        if body.isNull("url") { body.fail("url", "must not be null") }
        // null = back to the default (RFC 7396): every event, every channel, every user; enabled.
        f.events = body.isNull("events") ? [] : body.stringArray("events", maxCount: 16, allowed: Set(Webhook.eventTypes)) ?? nil
        f.channelIds = body.isNull("channelIds") ? [] : body.stringArray("channelIds", maxCount: 1000) ?? nil
        f.userIds = body.isNull("userIds") ? [] : body.stringArray("userIds", maxCount: 1000) ?? nil
        if let ids = f.userIds {
            if let problem = ids.lazy.compactMap(UserIdentifier.problem).first { body.fail("userIds", "each " + problem) }
            f.userIds = ids.map(UserIdentifier.normalize)
        }
        f.enabled = body.isNull("enabled") ? true : body.bool("enabled")
        return f
    }

    /// An absolute http(s) URL with a host, no credentials, no fragment; with
    /// `blockPrivateNetworks`, not a loopback/private/link-local literal address or `localhost`
    /// (names that resolve there are refused again at delivery time).
    static func urlProblem(_ raw: String, blockPrivateNetworks: Bool) -> String? {
        guard let c = URLComponents(string: raw), let scheme = c.scheme, scheme == "http" || scheme == "https" else {
            return "must be an http:// or https:// URL"
        }
        guard let host = c.host, !host.isEmpty else { return "must include a host" }
        if c.user != nil || c.password != nil { return "must not contain credentials" }
        if c.fragment != nil { return "must not contain a fragment" }
        if let port = c.port, !(1...65535).contains(port) { return "has an invalid port" }
        guard InputRules.wholeMatch(raw, InputRules.webhookURLPattern) else {
            return "must be an http(s) URL of ASCII characters: host (an IDN in its xn-- form), optional port 1-65535, path and query"
        }
        if blockPrivateNetworks, let why = privateHostProblem(host) { return why }
        return nil
    }

    /// A host that names a non-public address by itself — a literal in any notation
    /// (`127.0.0.1`, `2130706433`, `127.1`, `0x7f.1`, `[::ffff:127.0.0.1]` …) or `localhost` —
    /// refused when the URL is saved. Names are resolved and checked again on every delivery
    /// or connect (`OutboundGuard`), since DNS can be re-pointed after the check.
    static func privateHostProblem(_ rawHost: String) -> String? {
        let host = rawHost.lowercased()
        if host == "localhost" || host.hasSuffix(".localhost") || host == "localhost." { return "must not point at a non-public address (localhost)" }
        guard let address = OutboundAddressPolicy.literal(host), let why = OutboundAddressPolicy.refusal(address) else { return nil }
        return "must not point at a non-public address (\(OutboundAddressPolicy.format(address)): \(why))"
    }

    func createWebhook(_ request: Request) async throws -> Response {
        var body = try await BodyReader.read(request)
        let fields = webhookFields(&body, requireURL: true)
        try body.check()
        let hook = try await store.createWebhook(id: Identifiers.make("wh"), secret: Identifiers.webhookSecret(), fields: fields, now: Date())
        return Envelope.response(.created, data: render(hook, includeSecret: true))
    }

    func listWebhooks(_ request: Request) async throws -> Response {
        let q = QueryReader(request: request)
        return Envelope.response(data: page(try await store.listWebhooks(limit: try q.limit(), cursor: q.string("cursor"), descending: q.descending(byDefault: false))) { render($0) })
    }

    func getWebhook(_ context: APIRequestContext) async throws -> Response {
        guard let hook = try await store.webhook(id: try parameter(context, "id")) else { throw APIError.notFound("webhook") }
        return Envelope.response(data: render(hook))
    }

    func patchWebhook(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let id = try parameter(context, "id")
        var body = try await BodyReader.read(request)
        let fields = webhookFields(&body, requireURL: false)
        try body.check()
        guard let hook = try await store.updateWebhook(id: id, fields: fields, now: Date()) else { throw APIError.notFound("webhook") }
        if fields.enabled == true { dispatcher?.notify() } // enabled again: what it missed is due now
        return Envelope.response(data: render(hook))
    }

    /// A new secret, shown once; the old one keeps signing beside it (two `v1,` signatures in
    /// `webhook-signature`) for `overlapSec`, so receivers can switch without losing a delivery
    /// (docs/api.md, "Rotating a webhook secret").
    func rotateWebhookSecret(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let id = try parameter(context, "id")
        var body = try await BodyReader.readOptional(request)
        body.restrict(to: ["overlapSec"], readOnly: [])
        let overlap = (body.int("overlapSec", in: 0...604_800) ?? nil).map(Double.init) ?? configuration.webhookSecretOverlap
        try body.check()
        let now = Date()
        guard let hook = try await store.rotateWebhookSecret(id: id, newSecret: Identifiers.webhookSecret(), overlapUntil: now.addingTimeInterval(overlap), now: now)
        else { throw APIError.notFound("webhook") }
        context.logger.info("webhook secret rotated", metadata: ["webhook.id": "\(hook.id)", "overlap.sec": "\(Int(overlap))"])
        return Envelope.response(data: render(hook, includeSecret: true))
    }

    func deleteWebhook(_ context: APIRequestContext) async throws -> Response {
        guard try await store.deleteWebhook(id: try parameter(context, "id")) else { throw APIError.notFound("webhook") }
        return Envelope.noContent()
    }
}

extension ControlAPI {
    func listSessions(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let id = try parameter(context, "id")
        guard try await store.channel(id: id) != nil else { throw APIError.notFound("channel") }
        let q = QueryReader(request: request)
        return Envelope.response(data: page(try await store.sessions(channelId: id, limit: try q.limit(), cursor: q.string("cursor"), descending: q.descending(byDefault: true))) { $0.json })
    }

    func render(_ d: DeliveryRecord) -> JSONValue {
        .object([
            "id": .string(d.id), "webhookId": .string(d.webhookId), "eventId": .string(d.eventId), "eventType": .string(d.eventType),
            "eventSeq": .number(Double(d.eventSeq)), "attempt": .number(Double(d.attempt)), "state": .string(d.state.rawValue),
            "statusCode": d.statusCode.map { .number(Double($0)) } ?? .null, "latencyMs": d.latencyMs.map { .number(Double($0)) } ?? .null,
            "responseExcerpt": d.responseExcerpt.map { .string($0) } ?? .null,
            "nextAttemptAt": d.state == .pending ? .string(Timestamp.format(d.nextAttemptAt)) : .null,
            "createdAt": .string(Timestamp.format(d.createdAt)), "updatedAt": .string(Timestamp.format(d.updatedAt)),
        ])
    }

    func listDeliveries(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let id = try parameter(context, "id")
        guard try await store.webhook(id: id) != nil else { throw APIError.notFound("webhook") }
        let q = QueryReader(request: request)
        var state: DeliveryRecord.State?
        if let raw = q.string("state") {
            guard let s = DeliveryRecord.State(rawValue: raw) else {
                throw APIError.badRequest("state must be one of " + DeliveryRecord.State.allCases.map(\.rawValue).joined(separator: ", "))
            }
            state = s
        }
        return Envelope.response(data: page(try await store.deliveries(webhookId: id, state: state, limit: try q.limit(), cursor: q.string("cursor"),
                                                                   descending: q.descending(byDefault: true))) { render($0) })
    }

    func redeliver(_ context: APIRequestContext) async throws -> Response {
        let id = try parameter(context, "id")
        let did = try parameter(context, "did")
        guard try await store.redeliver(deliveryId: did, webhookId: id, now: Date()) else { throw APIError.notFound("delivery") }
        dispatcher?.notify()
        return Envelope.response(.accepted, data: .object(["id": .string(did), "state": .string("pending")]))
    }

    /// Sends `webhook.ping` synchronously (5 s timeout) and reports the receiver's answer.
    func testWebhook(_ context: APIRequestContext) async throws -> Response {
        let id = try parameter(context, "id")
        guard let hook = try await store.webhook(id: id) else { throw APIError.notFound("webhook") }
        guard let dispatcher else { throw APIError(.serviceUnavailable, ec: 5030, "webhook delivery is not running", headers: [.retryAfter: "2"]) }
        let now = Date()
        let (event, deliveryID) = try await store.appendPing(.make(type: "webhook.ping", channelId: nil, userId: nil, at: now,
                                                                  data: .object(["webhookId": .string(hook.id)])), webhookId: hook.id, now: now)
        let delivery = DeliveryRecord(id: deliveryID, webhookId: hook.id, eventSeq: event.seq, eventId: event.id, eventType: event.type, attempt: 0,
                                      state: .pending, nextAttemptAt: now, createdAt: now, updatedAt: now)
        // One attempt, answered here and never retried: a test is not a delivery to keep trying.
        let outcome = await dispatcher.attempt(delivery, webhook: hook, payload: event.payload.jsonText, claimedBy: "#ping", retried: false)
        var answer: [String: JSONValue] = ["delivered": .bool(outcome.delivered), "latencyMs": .number(Double(outcome.latencyMs))]
        answer["statusCode"] = outcome.statusCode.map { JSONValue.number(Double($0)) } ?? .null
        answer["responseExcerpt"] = outcome.excerpt.map { JSONValue.string($0) } ?? .null
        answer["eventId"] = .string(event.id)
        answer["deliveryId"] = .string(deliveryID)
        return Envelope.response(data: .object(answer))
    }
}
