import LiveGateModel
import ChannelStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Webhooks

/// The REST control API (docs/contract.md §4) on Hummingbird, embedded in the gateway process.
public struct ControlAPI: Sendable {
    public let store: any ChannelStore
    public let configuration: ControlAPIConfiguration
    let sessions: any LiveSessionControl
    let dispatcher: WebhookDispatcher?
    let metrics: (any MetricsProvider)?
    let authThrottle: AuthFailureThrottle
    /// Authenticated tokens, shared with the token endpoints (a revoked one is forgotten at once).
    let tokenCache = TokenHashCache()
    /// Playback policies and signing keys the HLS route reads on every request.
    let playbackCache = PlaybackCache()
    /// Requests by route and status, for `/metrics`.
    let requestMetrics = RequestMetrics()
    /// The one poller of the event log behind every open event stream.
    let eventFeed: EventFeed

    public init(store: any ChannelStore, sessions: any LiveSessionControl = NoLiveSessions(), dispatcher: WebhookDispatcher? = nil,
                metrics: (any MetricsProvider)? = nil, configuration: ControlAPIConfiguration) {
        self.metrics = metrics
        self.store = store
        self.configuration = configuration
        self.sessions = sessions
        self.dispatcher = dispatcher
        self.authThrottle = AuthFailureThrottle(maxPerMinute: configuration.authFailuresPerMinute)
        self.eventFeed = EventFeed(store: store, settings: configuration.eventStreams)
    }

    /// Builds the router: every route of `routes`, a 405 with `Allow` for other methods on a
    /// known path, 404 for unknown paths, all errors in the envelope.
    public func makeRouter() -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        let routes = self.routes
        var errors = ErrorMiddleware<APIRequestContext>()
        var table: [String: [HTTPRequest.Method]] = [:]
        for route in routes { table[route.path, default: []] += route.method == .get ? [.get, .head] : [route.method] }
        errors.methodsByPath = table.map { (path, methods) in (path.split(separator: "/", omittingEmptySubsequences: false), methods) }
        requestMetrics.setPaths(routes.map(\.path))
        router.add(middleware: RequestMetricsMiddleware<APIRequestContext>(metrics: requestMetrics))
        router.add(middleware: errors)
        let auth = BasicAuthMiddleware(store: store, throttle: authThrottle, tokens: tokenCache, trustedProxy: configuration.trustedProxy)
        var methodsByPath: [String: [HTTPRequest.Method]] = [:]
        // The GET of each conditional path: what If-Match compares against.
        let readers = Dictionary(routes.filter { $0.method == .get }.map { ($0.path, $0.handler) }, uniquingKeysWith: { a, _ in a })
        for route in routes {
            let handler: APIRoute.Handler = { request, context in
                if let grant = context.grant {
                    try grant.authorize(route.access)
                    try await checkOwner(route, grant, context)
                }
                try route.checkQuery(request)
                if route.isIdempotentCreate {
                    return try await idempotent(request, context, route: route, run: route.handler)
                }
                if route.query.contains(where: { $0.name == "cursor" }) {
                    return try await boundCursor(request, context, run: route.handler)
                }
                if Self.conditionalPaths.contains(route.path), let read = readers[route.path] {
                    return try await conditional(request, context, route: route, read: read)
                }
                return try await route.handler(request, context)
            }
            let answer: APIRoute.Handler
            if route.requiresAuth {
                answer = { (request: Request, context: APIRequestContext) async throws -> Response in
                    try await auth.handle(request, context: context) { (request: Request, context: APIRequestContext) async throws -> Response in
                        try await handler(request, context)
                    }
                }
            } else {
                answer = handler
            }
            methodsByPath[route.routerPath, default: []].append(route.method)
            router.on(RouterPath(route.routerPath), method: route.method) { (request: Request, context: APIRequestContext) async throws -> Response in
                try await answer(request, context)
            }
            // Every GET answers HEAD: the same status and headers, no body.
            if route.method == .get {
                methodsByPath[route.routerPath, default: []].append(.head)
                router.on(RouterPath(route.routerPath), method: .head) { (request: Request, context: APIRequestContext) async throws -> Response in
                    let full = try await answer(request, context)
                    return Response(status: full.status, headers: full.headers, body: .init())
                }
            }
        }
        // Node-to-node (docs/contract.md §7, "Files on several nodes"): not part of the public
        // API, not in the OpenAPI document; every request must carry a node's signature.
        router.on(RouterPath("/internal/v1/hls/{channel}/{file}"), method: .get) { request, context in try await internalHLSFile(request, context) }
        router.on(RouterPath("/internal/v1/videos/{id}/file"), method: .get) { request, context in try await internalVideoFile(request, context) }
        router.on(RouterPath("/internal/v1/channels/{id}/stats/history"), method: .get) { request, context in try await internalStatsHistory(request, context) }
        router.on(RouterPath("/internal/v1/channels/{id}/thumbnail.jpg"), method: .get) { request, context in try await internalThumbnail(request, context) }
        router.on(RouterPath("/internal/v1/videos/{id}/thumbnail.jpg"), method: .get) { request, context in try await internalVideoPoster(request, context) }
        addDashboard(to: router)
        let allMethods: [HTTPRequest.Method] = [.get, .post, .put, .patch, .delete, .head, .options, .trace]
        for (path, allowed) in methodsByPath {
            for method in allMethods where !allowed.contains(method) {
                router.on(RouterPath(path), method: method) { _, _ -> Response in throw APIError.methodNotAllowed(allowed) }
            }
        }
        return router
    }

    var routes: [APIRoute] {
        let channelOps = ["getChannel", "updateChannel", "replaceChannel", "deleteChannel", "resetChannelKey", "enableChannel", "disableChannel",
                          "clearChannelCooldown", "getChannelStats", "listChannelSessions", "listForwards", "createForward", "createPlaybackToken",
                          "reconnectChannelPublisher"]
        let channelLinks = OperationContract.links(channelOps, ["id": "$response.body#/data/id"])
        let webhookLinks = OperationContract.links(["getWebhook", "updateWebhook", "deleteWebhook", "testWebhook", "listWebhookDeliveries", "rotateWebhookSecret"],
                                                   ["id": "$response.body#/data/id"])
        let forwardLinks = OperationContract.links(["getForward", "updateForward", "deleteForward"], ["id": "$response.body#/data/channelId", "fid": "$response.body#/data/id"])
        let tokenLinks = OperationContract.links(["getToken", "revokeToken"], ["id": "$response.body#/data/id"])
        let userLinks = OperationContract.links(["getUserConfig", "getUserUsage"], ["userId": "$request.path.userId"])
        let videoLinks = OperationContract.links(["getVideo", "downloadVideoFile", "deleteVideo"], ["id": "$response.body#/data/items/0/id"])
        let deliveryLinks = OperationContract.links(["redeliverWebhookDelivery"], ["id": "$request.path.id", "did": "$response.body#/data/items/0/id"])
        let fileMedia: [String: JSONValue] = ["video/mp4": .object(["type": .string("string"), "format": .string("binary")])]
        return [
            APIRoute(.get, "/healthz", operation: "getHealth", "Liveness", access: .anonymous, .json("Health")) { [configuration] _, _ in
                Envelope.response(data: .object(["status": .string("ok"), "nodeId": .string(configuration.nodeId)]))
            },
            APIRoute(.get, "/readyz", operation: "getReadiness", "Readiness: the store answers", access: .anonymous, .json("Readiness", statuses: [503: [5030]])) { _, _ in try await readyz() },
            APIRoute(.get, "/readyz/ingest", operation: "getIngestReadiness",
                     "Readiness for publishers and players: this node takes publishes (503 while it drains; a store outage does not count — LiveGate refuses those publishes itself)",
                     access: .anonymous, .json("IngestReadiness", statuses: [503: [5030]])) { [configuration] _, _ in
                if let reason = configuration.ingestUnavailable() {
                    return Envelope.error(APIError(.serviceUnavailable, ec: 5030, reason, data: .object(["status": .string("draining")]), headers: [.retryAfter: "5"]))
                }
                return Envelope.response(data: .object(["status": .string("ready")]))
            },
            APIRoute(.get, "/metrics", operation: "getMetrics", "Prometheus text format", access: .anonymous,
                     OperationContract(media: ["text/plain": .object(["type": .string("string")])])) { _, _ in
                Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                         body: .init(byteBuffer: ByteBuffer(string: (await metrics?.prometheusText() ?? "") + authThrottle.prometheusText() + requestMetrics.prometheusText()
                                                                      + (await storeHealthText()) + (configuration.peers?.prometheusText() ?? "")
                                                                      + "# HELP livegate_event_streams_open Open GET /v1/events/stream connections on this node.\n"
                                                                      + "# TYPE livegate_event_streams_open gauge\nlivegate_event_streams_open \(eventFeed.openStreams)\n")))
            },
            APIRoute(.get, "/v1/openapi.json", operation: "getOpenAPIDocument", "This API as OpenAPI 3.1", access: .anonymous,
                     OperationContract(media: ["application/json": .object(["type": .string("object")])])) { _, _ in openAPIResponse() },
            APIRoute(.post, "/v1/channels", operation: "createChannel", "Create a channel", access: .scope(.channelsWrite), status: 201,
                     .json("Channel", request: "ChannelCreate", limited: true, links: channelLinks)) { r, c in try await createChannel(r, c) },
            APIRoute(.get, "/v1/channels", operation: "listChannels", "List channels", access: .operatorRead(.channelsRead), query: Self.channelFilters + QueryParameter.ordered(newestFirst: false), .json("ChannelPage")) { r, c in try await listChannels(r, c) },
            APIRoute(.get, "/v1/channels/{id}", operation: "getChannel", "Read a channel", access: .operatorRead(.channelsRead), .json("Channel")) { _, c in try await getChannel(c) },
            APIRoute(.put, "/v1/channels/{id}", operation: "replaceChannel", "Replace a channel", access: .scope(.channelsWrite), .json("Channel", request: "ChannelCreate")) { r, c in try await updateChannel(r, c, replace: true) },
            APIRoute(.patch, "/v1/channels/{id}", operation: "updateChannel", "Update a channel (JSON Merge Patch)", access: .scope(.channelsWrite), .json("Channel", request: "ChannelPatch")) { r, c in try await updateChannel(r, c, replace: false) },
            APIRoute(.delete, "/v1/channels/{id}", operation: "deleteChannel", "Delete a channel (kicks a live publisher)", access: .scope(.channelsWrite), status: 204, .noContent) { _, c in try await deleteChannel(c) },
            APIRoute(.post, "/v1/channels/{id}/reset-key", operation: "resetChannelKey", "Issue a new stream key (kicks the publisher)", access: .scope(.channelsWrite), .json("Channel")) { _, c in try await resetKey(c) },
            APIRoute(.post, "/v1/channels/{id}/enable", operation: "enableChannel", "Allow publishing", access: .scope(.channelsWrite), .json("Channel")) { _, c in try await setEnabled(c, true) },
            APIRoute(.post, "/v1/channels/{id}/disable", operation: "disableChannel", "Refuse publishing (kicks the publisher)", access: .scope(.channelsWrite), .json("Channel")) { _, c in try await setEnabled(c, false) },
            APIRoute(.post, "/v1/obs/go-live", operation: "obsGoLive",
                     "OBS Enhanced Broadcasting's configuration URL: the renditions to encode and where to send them, for the stream key in the body (OBS's own GoLive API shape, not this API's envelope)",
                     access: .anonymous,
                     { var c = OperationContract(media: ["application/json": .object(["$ref": .string("#/components/schemas/GoLiveConfig")])])
                       c.request = "GoLiveRequest"; return c }()) { r, c in try await goLive(r, c) },
            APIRoute(.post, "/v1/channels/{id}/reconnect", operation: "reconnectChannelPublisher",
                     "Ask the channel's publisher to reconnect (Enhanced RTMP ReconnectRequest); its session continues where it lands",
                     access: .scope(.channelsWrite), status: 202,
                     { var c = OperationContract.json("ReconnectRequested"); c.statuses[409] = [4090]
                       c.descriptions[409] = "No publisher connected, or its encoder did not declare Reconnect in capsEx (4090)"; return c }()) { _, c in
                try await reconnectChannel(c)
            },
            APIRoute(.post, "/v1/channels/{id}/clear-cooldown", operation: "clearChannelCooldown",
                     "End the channel's limit cooldown: its publishes are accepted again (an operator's call: tokens bound to a user may not)",
                     access: .unbound(.channelsWrite), .json("Channel")) { _, c in try await clearCooldown(c) },
            APIRoute(.get, "/v1/channels/{id}/stats", operation: "getChannelStats", "Live ingest stats, measured from the media", access: .operatorRead(.channelsRead), .json("ChannelStats")) { _, c in try await channelStats(c) },
            APIRoute(.get, "/v1/channels/{id}/stats/history", operation: "getChannelStatsHistory", "The last hour of 10 s stats points",
                     access: .operatorRead(.channelsRead), query: [Self.historyWindow], .json("StatsHistory")) { r, c in try await channelStatsHistory(r, c) },
            APIRoute(.get, "/v1/system/stats", operation: "getSystemStats", "Connections, live channels, ingest bit rate, CPU, memory, store health", access: .unbound(.statsRead), .json("SystemStats")) { _, _ in await systemStats() },
            APIRoute(.get, "/v1/channels/{id}/sessions", operation: "listChannelSessions", "Publish history with end reasons", access: .operatorRead(.channelsRead), query: QueryParameter.ordered(newestFirst: true), .json("SessionPage")) { r, c in try await listSessions(r, c) },
            APIRoute(.post, "/v1/webhooks/{id}/test", operation: "testWebhook", "Send webhook.ping now and return the receiver's answer", access: .unbound(.webhooks), .json("WebhookTestResult")) { _, c in try await testWebhook(c) },
            APIRoute(.post, "/v1/channels/{id}/playback-tokens", operation: "createPlaybackToken", "Mint a playback token for a signed channel",
                     access: .scope(.channelsRead), status: 201, { var c = OperationContract.json("PlaybackToken", request: "PlaybackTokenCreate"); c.requestOptional = true; return c }()) { r, c in
                try await createPlaybackToken(r, c)
            },
            APIRoute(.post, "/v1/signing-keys", operation: "createSigningKey", "Make a playback signing key (the secret is returned once)", status: 201,
                     .json("SigningKeyCreated")) { _, _ in try await createSigningKey() },
            APIRoute(.get, "/v1/signing-keys", operation: "listSigningKeys", "List playback signing keys", .json("SigningKeyPage")) { _, _ in try await listSigningKeys() },
            APIRoute(.delete, "/v1/signing-keys/{id}", operation: "deleteSigningKey", "Delete a signing key: its tokens stop playing at once", status: 204,
                     .noContent) { _, c in try await deleteSigningKey(c) },
            APIRoute(.post, "/v1/webhooks/{id}/rotate-secret", operation: "rotateWebhookSecret", "New signing secret; the old one signs beside it for overlapSec",
                     access: .unbound(.webhooks), { var c = OperationContract.json("WebhookRotated", request: "WebhookRotate"); c.requestOptional = true; return c }()) { r, c in
                try await rotateWebhookSecret(r, c)
            },
            APIRoute(.get, "/v1/webhooks/{id}/deliveries", operation: "listWebhookDeliveries", "Delivery log, newest first", access: .unbound(.webhooks),
                     query: [.oneOf("state", DeliveryRecord.State.allCases.map(\.rawValue), "Only deliveries in this state")] + QueryParameter.ordered(newestFirst: true), .json("DeliveryPage", links: deliveryLinks)) { r, c in try await listDeliveries(r, c) },
            APIRoute(.post, "/v1/webhooks/{id}/deliveries/{did}/redeliver", operation: "redeliverWebhookDelivery", "Queue a delivery again", access: .unbound(.webhooks), status: 202, .json("RedeliveryQueued")) { _, c in try await redeliver(c) },
            APIRoute(.get, "/v1/users/{userId}/config", operation: "getUserConfig", "Read a user's limits", access: .scope(.channelsRead), .json("UserConfig")) { _, c in try await getUserConfig(c) },
            APIRoute(.put, "/v1/users/{userId}/config", operation: "replaceUserConfig", "Replace a user's limits", access: .unbound(.admin), .json("UserConfig", request: "UserConfigInput", links: userLinks)) { r, c in try await putUserConfig(r, c) },
            APIRoute(.get, "/v1/users/{userId}/usage", operation: "getUserUsage", "A user's usage against the limits", access: .scope(.channelsRead), .json("Usage")) { _, c in try await getUsage(c) },
            APIRoute(.post, "/v1/webhooks", operation: "createWebhook", "Create a webhook (the secret is returned once)", access: .unbound(.webhooks), status: 201,
                     .json("WebhookCreated", request: "WebhookCreate", links: webhookLinks)) { r, _ in try await createWebhook(r) },
            APIRoute(.get, "/v1/webhooks", operation: "listWebhooks", "List webhooks", access: .unbound(.webhooks), query: QueryParameter.ordered(newestFirst: false), .json("WebhookPage")) { r, _ in try await listWebhooks(r) },
            APIRoute(.get, "/v1/webhooks/{id}", operation: "getWebhook", "Read a webhook", access: .unbound(.webhooks), .json("Webhook")) { _, c in try await getWebhook(c) },
            APIRoute(.patch, "/v1/webhooks/{id}", operation: "updateWebhook", "Update a webhook (JSON Merge Patch)", access: .unbound(.webhooks), .json("Webhook", request: "WebhookPatch")) { r, c in try await patchWebhook(r, c) },
            APIRoute(.delete, "/v1/webhooks/{id}", operation: "deleteWebhook", "Delete a webhook", access: .unbound(.webhooks), status: 204, .noContent) { _, c in try await deleteWebhook(c) },
            APIRoute(.get, "/v1/search", operation: "search", "Search channels or videos", access: .scope(.channelsRead),
                     query: [.oneOf("type", ["channel", "video"], "What to search (default channel)")] + Self.channelFilters + QueryParameter.ordered(newestFirst: false), .json("SearchPage")) { r, c in try await search(r, c) },
            APIRoute(.post, "/v1/system/drain", operation: "drainNode",
                     "Drain the node that answers: no new publishes, then it stops and hands its sessions over", access: .unbound(.admin), status: 202,
                     .json("Drain")) { _, _ in try await drainNode() },
            APIRoute(.delete, "/v1/system/nodes/{id}", operation: "removeNode",
                     "Remove a stopped or lost node for good: it leaves the list, its recordings' files are unavailable", access: .unbound(.admin), status: 204,
                     OperationContract(statuses: [409: [4090]],
                                       descriptions: [409: "This node itself, or a node whose heartbeat is fresh: stop it first (4090)"])) { _, c in try await forgetNode(c) },
            APIRoute(.get, "/v1/system", operation: "getSystem", "Version, node, ports, codecs, uptime, and the nodes sharing the store", access: .anyToken, .json("System")) { _, _ in await system() },
            APIRoute(.get, "/v1/events", operation: "listEvents", "Ordered event log for reconciliation: exactly the webhook bodies, oldest first", access: .operatorRead(.channelsRead),
                     query: Self.eventFilters + QueryParameter.list, .json("EventPage")) { r, c in try await events(r, c) },
            APIRoute(.get, "/v1/channels/{id}/thumbnail.jpg", operation: "getChannelThumbnail",
                     "The latest keyframe of a live channel as a JPEG (404 offline; 503 with Retry-After until a keyframe is held)",
                     access: .operatorRead(.channelsRead), query: [Self.thumbnailWidth],
                     OperationContract(media: ["image/jpeg": .object(["type": .string("string"), "format": .string("binary")])],
                                       statuses: [503: [5030]],
                                       descriptions: [404: "No such channel, or it is not live (4040)",
                                                      503: "No keyframe held yet (the first request starts holding them), or the decode budget is spent (5030, Retry-After)"])) { r, c in
                try await channelThumbnail(r, c)
            },
            APIRoute(.get, "/v1/insights/usage", operation: "getUsageInsights",
                     "Minutes streamed, sessions, bytes, peak live channels, refusals, limit events and health time, by UTC hour or day",
                     access: .operatorRead(.channelsRead), query: Self.insightsFilters, .json("UsageReport")) { r, c in try await insightsUsage(r, c) },
            APIRoute(.get, "/v1/events/stream", operation: "streamEvents",
                     "The event log live, as Server-Sent Events (id = seq, resumable with Last-Event-ID), with the filters of /v1/events",
                     access: .operatorRead(.channelsRead), query: Self.streamFilters,
                     OperationContract(media: ["text/event-stream": .object(["type": .string("string")])], statuses: [503: [5030]],
                                       descriptions: [503: "Too many open event streams on this node (events.maxStreams; 5030, Retry-After)"])) { r, c in
                try await eventStream(r, c)
            },
            APIRoute(.post, "/v1/channels/{id}/forwards", operation: "createForward", "Add a push target (at most 5)", access: .scope(.channelsWrite), status: 201,
                     .json("Forward", request: "ForwardCreate", limited: true, links: forwardLinks)) { r, c in try await createForward(r, c) },
            APIRoute(.get, "/v1/channels/{id}/forwards", operation: "listForwards", "List push targets with their live state", access: .scope(.channelsRead), .json("ForwardPage")) { _, c in try await listForwards(c) },
            APIRoute(.get, "/v1/channels/{id}/forwards/{fid}", operation: "getForward", "Read a push target", access: .scope(.channelsRead), .json("Forward")) { _, c in try await getForward(c) },
            APIRoute(.patch, "/v1/channels/{id}/forwards/{fid}", operation: "updateForward", "Update a push target (JSON Merge Patch)", access: .scope(.channelsWrite), .json("Forward", request: "ForwardPatch")) { r, c in try await patchForward(r, c) },
            APIRoute(.delete, "/v1/channels/{id}/forwards/{fid}", operation: "deleteForward", "Delete a push target", access: .scope(.channelsWrite), status: 204, .noContent) { _, c in try await deleteForward(c) },
            APIRoute(.get, "/v1/videos", operation: "listVideos", "List recordings", access: .scope(.videos), query: Self.videoFilters + QueryParameter.ordered(newestFirst: true), .json("VideoPage", links: videoLinks)) { r, c in try await listVideos(r, c) },
            APIRoute(.get, "/v1/videos/{id}", operation: "getVideo", "Read a recording", access: .scope(.videos), .json("Video")) { _, c in try await getVideo(c) },
            APIRoute(.delete, "/v1/videos/{id}", operation: "deleteVideo", "Delete a recording and its file", access: .scope(.videos), status: 204, .noContent) { _, c in try await deleteVideo(c) },
            APIRoute(.get, "/v1/videos/{id}/thumbnail.jpg", operation: "getVideoPoster", "The recording's poster: its first keyframe as a JPEG",
                     access: .scope(.videos),
                     OperationContract(media: ["image/jpeg": .object(["type": .string("string"), "format": .string("binary")])],
                                       statuses: [503: [5030]],
                                       descriptions: [404: "No such recording, or it has no poster (4040)",
                                                      503: "Just finished: the poster is being made; or the node holding it cannot be reached (5030, Retry-After)"])) { r, c in
                try await videoPoster(r, c)
            },
            APIRoute(.get, "/v1/videos/{id}/file", operation: "downloadVideoFile", "Download the MP4 (one Range supported)", access: .scope(.videos),
                     OperationContract(media: fileMedia, statuses: [206: [], 416: [4160]])) { r, c in try await videoFile(r, c) },
            APIRoute(.get, "/hls/{channel}/{file}", operation: "getHLSFile", "HLS playlist and segments of a live channel", access: .anonymous, anyQuery: true,
                     OperationContract(media: ["application/vnd.apple.mpegurl": .object(["type": .string("string")]),
                                               "video/mp2t": .object(["type": .string("string"), "format": .string("binary")])],
                                       statuses: [403: [4030]],
                                       descriptions: [403: "A signed channel without a valid playback token (?token=): missing, expired, for another channel or signed by a deleted key (4030)"])) { r, c in
                try await hlsFile(r, c)
            },
            APIRoute(.post, "/v1/tokens", operation: "createToken", "Create an API token (the secret is returned once)", access: .unbound(.admin), status: 201,
                     .json("TokenCreated", request: "TokenCreate", links: tokenLinks)) { r, c in try await createToken(r, c) },
            APIRoute(.get, "/v1/tokens", operation: "listTokens", "List API tokens", access: .unbound(.admin), query: QueryParameter.ordered(newestFirst: false), .json("TokenPage")) { r, _ in try await listTokens(r) },
            APIRoute(.get, "/v1/tokens/{id}", operation: "getToken", "Read an API token", access: .unbound(.admin), .json("Token")) { _, c in try await getToken(c) },
            APIRoute(.delete, "/v1/tokens/{id}", operation: "revokeToken", "Revoke an API token (not the configured one: 409)", access: .unbound(.admin), status: 204,
                     OperationContract(statuses: [409: [4090]],
                                       descriptions: [409: "The configured token (api.tokenId) is revoked by changing the configuration (4090)"])) { _, c in try await deleteToken(c) },
        ]
    }

    static let channelFilters: [QueryParameter] = [
        .oneOf("status", ["live", "reconnecting", "offline"], "Only channels in this state"),
        .string("node", "Only channels whose session this node carries (live or reconnecting): a node id from /v1/system", maxLength: 128),
        .string("userId", "Only this user's channels (NFC-normalised; whitespace at the ends: 422)", maxLength: 128, pattern: InputRules.userIdPattern),
        .string("tag", "Only channels with this tag", maxLength: 64),
        .string("q", "Name contains (case-insensitive)", maxLength: 200),
        .time("from", "Created at or after (RFC 3339)"),
        .time("to", "Created at or before (RFC 3339)"),
    ]

    static let videoFilters: [QueryParameter] = [
        .string("channelId", "Recordings of this channel", maxLength: 128),
        .string("userId", "Recordings of this user's channels (NFC-normalised; whitespace at the ends: 422)", maxLength: 128, pattern: InputRules.userIdPattern),
        .string("q", "Name contains (case-insensitive)", maxLength: 200),
        .time("from", "Created at or after (RFC 3339)"),
        .time("to", "Created at or before (RFC 3339)"),
    ]

    /// A comma-separated list of logged event types.
    static let eventTypesPattern: String = {
        let one = "(?:" + EventType.logged.map { $0.rawValue.replacingOccurrences(of: ".", with: "\\.") }.joined(separator: "|") + ")"
        return "^\(one)(?:,\(one))*$"
    }()

    static let eventFilters: [QueryParameter] = [
        QueryParameter("after", .integer(0...QueryParameter.largestExactInteger),
                       "Events with a greater seq: a poller's position (gapless and commit-ordered, so never one skipped)"),
        .string("type", "Comma-separated event types: " + EventType.logged.map(\.rawValue).joined(separator: ", "), maxLength: 512,
                pattern: eventTypesPattern),
        .string("channelId", "Events of this channel", maxLength: 128),
        .string("userId", "Events of this user's channels (NFC-normalised; whitespace at the ends: 422)", maxLength: 128, pattern: InputRules.userIdPattern),
        .time("from", "Created at or after (RFC 3339)"),
        .time("to", "Created before (RFC 3339)"),
    ]

    // MARK: Health

    /// `livegate_store_up` and the time a round trip to the store took, measured at each scrape
    /// (the ping is bounded like every store call, so an outage shows as 0, not as a hung scrape).
    func storeHealthText() async -> String {
        let started = ContinuousClock.now
        let up = (try? await store.ping()) != nil
        let elapsed = ContinuousClock.now - started
        var p = PrometheusText()
        p.family("livegate_store_up", .gauge, help: "1 when the store answered this scrape's ping, 0 otherwise.")
        p.sample("livegate_store_up", [("backend", store.backendName)], up ? 1 : 0)
        p.family("livegate_store_ping_seconds", .gauge, help: "How long this scrape's ping of the store took, in seconds.")
        p.sample("livegate_store_ping_seconds", [("backend", store.backendName)],
                 Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        return p.text
    }

    func readyz() async throws -> Response {
        do {
            try await store.ping()
            return Envelope.response(data: .object(["status": .string("ready"), "store": .string(store.backendName)]))
        } catch {
            return Envelope.error(APIError(.serviceUnavailable, ec: 5030, "store unavailable", headers: [.retryAfter: "2"]))
        }
    }

    /// `nodes`: every node registered in the store with its health (heartbeat within 15 s);
    /// null while the store cannot be read — the rest of the answer is this node's own.
    func system() async -> Response {
        let now = Date()
        let nodes: JSONValue
        if let records = try? await store.nodes() {
            nodes = .array(records.map { n in
                .object(["id": .string(n.id), "addresses": .array(n.addresses.map { .string($0) }), "version": .string(n.version),
                         "startedAt": .string(Timestamp.format(n.startedAt)), "heartbeatAt": .string(Timestamp.format(n.heartbeatAt)),
                         "healthy": .bool(now.timeIntervalSince(n.heartbeatAt) <= configuration.leaseTimeToLive), "self": .bool(n.id == configuration.nodeId),
                         "advertiseUrl": n.advertiseUrl.map { .string($0) } ?? .null])
            })
        } else {
            nodes = .null
        }
        return Envelope.response(data: .object([
            "nodes": nodes,
            "version": .string(configuration.version), "nodeId": .string(configuration.nodeId),
            "ports": .object(["rtmp": .number(Double(configuration.rtmpPort)), "http": .number(Double(configuration.httpPort))]),
            "rtmpApp": .string(configuration.rtmpApp), "store": .string(store.backendName),
            "codecs": .object(["video": .array(["h264", "hevc", "av1", "vp9"].map { .string($0) }),
                               "audio": .array(["aac", "mp3", "opus"].map { .string($0) })]),
            "uptimeSec": .number((Date().timeIntervalSince(configuration.startedAt) * 10).rounded() / 10),
        ]))
    }

    func channelStats(_ context: APIRequestContext) async throws -> Response {
        let id = try parameter(context, "id")
        guard let channel = try await store.channel(id: id) else { throw APIError.notFound("channel") }
        let stats = await sessions.channelStats(id) ?? .offline(channel)
        return Envelope.response(data: stats.json)
    }

    func systemStats() async -> Response {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8))?.split(separator: " ")
        let rssBytes = (statm.flatMap { $0.count > 1 ? Double($0[1]) : nil } ?? 0) * Double(sysconf(Int32(_SC_PAGESIZE)))
        var storeHealthy = true
        do { try await store.ping() } catch { storeHealthy = false }
        var o = (await sessions.ingestSummary()).objectValue ?? [:]
        o["cpuSeconds"] = .number((cpu * 1000).rounded() / 1000)
        o["memoryRssBytes"] = .number(rssBytes)
        o["uptimeSec"] = .number((Date().timeIntervalSince(configuration.startedAt) * 10).rounded() / 10)
        o["store"] = .object(["backend": .string(store.backendName), "healthy": .bool(storeHealthy)])
        return Envelope.response(data: .object(o))
    }

    // MARK: Helpers

    /// A path parameter, percent-decoded (`/v1/users/ng%C6%B0%E1%BB%9Di/usage` is user "người").
    /// One that cannot name anything (bad encoding, control characters, over 128 bytes) is a 404.
    /// The `{userId}` of a path, NFC-normalised; one with whitespace or control characters at its
    /// ends is refused (422), as in a body (docs/api.md, "User ids").
    func userParameter(_ context: APIRequestContext) throws -> String {
        guard let raw = context.parameters.get("userId"), let value = raw.removingPercentEncoding else { throw APIError.notFound("userId") }
        if let problem = UserIdentifier.problem(value) { throw APIError.invalid(["userId": problem]) }
        return UserIdentifier.normalize(value)
    }

    func parameter(_ context: APIRequestContext, _ name: String) throws -> String {
        guard let raw = context.parameters.get(name), let value = raw.removingPercentEncoding, !value.isEmpty, value.utf8.count <= 128,
              !value.containsControlCharacter
        else { throw APIError.notFound(name) }
        return value
    }
}
