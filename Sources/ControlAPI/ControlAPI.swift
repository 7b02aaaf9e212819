import ChannelStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Webhooks

/// The REST control API (SPEC §4) on Hummingbird, embedded in the gateway process.
public struct ControlAPI: Sendable {
    public let store: any ChannelStore
    public let configuration: ControlAPIConfiguration
    let sessions: any LiveSessionControl
    let dispatcher: WebhookDispatcher?
    let metrics: (any MetricsProvider)?
    let authThrottle: AuthFailureThrottle
    /// Authenticated tokens, shared with the token endpoints (a revoked one is forgotten at once).
    let tokenCache = TokenHashCache()

    public init(store: any ChannelStore, sessions: any LiveSessionControl = NoLiveSessions(), dispatcher: WebhookDispatcher? = nil,
                metrics: (any MetricsProvider)? = nil, configuration: ControlAPIConfiguration) {
        self.metrics = metrics
        self.store = store
        self.configuration = configuration
        self.sessions = sessions
        self.dispatcher = dispatcher
        self.authThrottle = AuthFailureThrottle(maxPerMinute: configuration.authFailuresPerMinute)
    }

    /// Builds the router: every route of `routes`, a 405 with `Allow` for other methods on a
    /// known path, 404 for unknown paths, all errors in the envelope.
    public func makeRouter() -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        let routes = self.routes
        let auth = BasicAuthMiddleware(store: store, throttle: authThrottle, tokens: tokenCache)
        var methodsByPath: [String: [HTTPRequest.Method]] = [:]
        for route in routes {
            let handler: APIRoute.Handler = { request, context in
                if let grant = context.grant {
                    try grant.require(route.scope)
                    try await checkOwner(route, grant, context)
                }
                try route.checkQuery(request)
                if route.method == .post && route.successStatus == 201 {
                    return try await idempotent(request, context, route: route, run: route.handler)
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
        let allMethods: [HTTPRequest.Method] = [.get, .post, .put, .patch, .delete, .head, .options, .trace]
        for (path, allowed) in methodsByPath {
            for method in allMethods where !allowed.contains(method) {
                router.on(RouterPath(path), method: method) { _, _ -> Response in throw APIError.methodNotAllowed(allowed) }
            }
        }
        return router
    }

    var routes: [APIRoute] {
        [
            APIRoute(.get, "/healthz", operation: "getHealth", "Liveness", auth: false) { _, _ in Envelope.response(data: .object(["status": .string("ok")])) },
            APIRoute(.get, "/readyz", operation: "getReadiness", "Readiness: the store answers", auth: false) { _, _ in try await readyz() },
            APIRoute(.get, "/metrics", operation: "getMetrics", "Prometheus text format", auth: false) { _, _ in
                Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                         body: .init(byteBuffer: ByteBuffer(string: await metrics?.prometheusText() ?? "")))
            },
            APIRoute(.get, "/v1/openapi.json", operation: "getOpenAPIDocument", "This API as OpenAPI 3.1", auth: false) { _, _ in openAPIResponse() },
            APIRoute(.post, "/v1/channels", operation: "createChannel", "Create a channel", status: 201) { r, c in try await createChannel(r, c) },
            APIRoute(.get, "/v1/channels", operation: "listChannels", "List channels", query: Self.channelFilters + QueryParameter.list) { r, c in try await listChannels(r, c) },
            APIRoute(.get, "/v1/channels/{id}", operation: "getChannel", "Read a channel") { _, c in try await getChannel(c) },
            APIRoute(.put, "/v1/channels/{id}", operation: "replaceChannel", "Replace a channel") { r, c in try await updateChannel(r, c, replace: true) },
            APIRoute(.patch, "/v1/channels/{id}", operation: "updateChannel", "Update a channel") { r, c in try await updateChannel(r, c, replace: false) },
            APIRoute(.delete, "/v1/channels/{id}", operation: "deleteChannel", "Delete a channel (kicks a live publisher)", status: 204) { _, c in try await deleteChannel(c) },
            APIRoute(.post, "/v1/channels/{id}/reset-key", operation: "resetChannelKey", "Issue a new stream key (kicks the publisher)") { _, c in try await resetKey(c) },
            APIRoute(.post, "/v1/channels/{id}/enable", operation: "enableChannel", "Allow publishing") { _, c in try await setEnabled(c, true) },
            APIRoute(.post, "/v1/channels/{id}/disable", operation: "disableChannel", "Refuse publishing (kicks the publisher)") { _, c in try await setEnabled(c, false) },
            APIRoute(.get, "/v1/channels/{id}/stats", operation: "getChannelStats", "Live ingest stats, measured from the media") { _, c in try await channelStats(c) },
            APIRoute(.get, "/v1/system/stats", operation: "getSystemStats", "Connections, live channels, ingest bit rate, CPU, memory, store health") { _, _ in await systemStats() },
            APIRoute(.get, "/v1/channels/{id}/sessions", operation: "listChannelSessions", "Publish history with end reasons", query: QueryParameter.list) { r, c in try await listSessions(r, c) },
            APIRoute(.post, "/v1/webhooks/{id}/test", operation: "testWebhook", "Send webhook.ping now and return the receiver's answer") { _, c in try await testWebhook(c) },
            APIRoute(.get, "/v1/webhooks/{id}/deliveries", operation: "listWebhookDeliveries", "Delivery log, newest first",
                     query: [.oneOf("state", DeliveryRecord.State.allCases.map(\.rawValue), "Only deliveries in this state")] + QueryParameter.list) { r, c in try await listDeliveries(r, c) },
            APIRoute(.post, "/v1/webhooks/{id}/deliveries/{did}/redeliver", operation: "redeliverWebhookDelivery", "Queue a delivery again") { _, c in try await redeliver(c) },
            APIRoute(.get, "/v1/users/{userId}/config", operation: "getUserConfig", "Read a user's limits") { _, c in try await getUserConfig(c) },
            APIRoute(.put, "/v1/users/{userId}/config", operation: "replaceUserConfig", "Replace a user's limits") { r, c in try await putUserConfig(r, c) },
            APIRoute(.get, "/v1/users/{userId}/usage", operation: "getUserUsage", "A user's usage against the limits") { _, c in try await getUsage(c) },
            APIRoute(.post, "/v1/webhooks", operation: "createWebhook", "Create a webhook (the secret is returned once)", status: 201) { r, _ in try await createWebhook(r) },
            APIRoute(.get, "/v1/webhooks", operation: "listWebhooks", "List webhooks", query: QueryParameter.list) { r, _ in try await listWebhooks(r) },
            APIRoute(.get, "/v1/webhooks/{id}", operation: "getWebhook", "Read a webhook") { _, c in try await getWebhook(c) },
            APIRoute(.patch, "/v1/webhooks/{id}", operation: "updateWebhook", "Update a webhook") { r, c in try await patchWebhook(r, c) },
            APIRoute(.delete, "/v1/webhooks/{id}", operation: "deleteWebhook", "Delete a webhook", status: 204) { _, c in try await deleteWebhook(c) },
            APIRoute(.get, "/v1/search", operation: "search", "Search channels or videos",
                     query: [.oneOf("type", ["channel", "video"], "What to search (default channel)")] + Self.channelFilters + QueryParameter.list) { r, c in try await search(r, c) },
            APIRoute(.get, "/v1/system", operation: "getSystem", "Version, node, ports, codecs, uptime") { _, _ in system() },
            APIRoute(.get, "/v1/events", operation: "listEvents", "Ordered event log for reconciliation", query: Self.eventFilters + QueryParameter.list) { r, c in try await events(r, c) },
            APIRoute(.post, "/v1/channels/{id}/forwards", operation: "createForward", "Add a push target (at most 5)", status: 201) { r, c in try await createForward(r, c) },
            APIRoute(.get, "/v1/channels/{id}/forwards", operation: "listForwards", "List push targets with their live state") { _, c in try await listForwards(c) },
            APIRoute(.get, "/v1/channels/{id}/forwards/{fid}", operation: "getForward", "Read a push target") { _, c in try await getForward(c) },
            APIRoute(.patch, "/v1/channels/{id}/forwards/{fid}", operation: "updateForward", "Update a push target") { r, c in try await patchForward(r, c) },
            APIRoute(.delete, "/v1/channels/{id}/forwards/{fid}", operation: "deleteForward", "Delete a push target", status: 204) { _, c in try await deleteForward(c) },
            APIRoute(.get, "/v1/videos", operation: "listVideos", "List recordings", query: Self.videoFilters + QueryParameter.list) { r, c in try await listVideos(r, c) },
            APIRoute(.get, "/v1/videos/{id}", operation: "getVideo", "Read a recording") { _, c in try await getVideo(c) },
            APIRoute(.delete, "/v1/videos/{id}", operation: "deleteVideo", "Delete a recording and its file", status: 204) { _, c in try await deleteVideo(c) },
            APIRoute(.get, "/v1/videos/{id}/file", operation: "downloadVideoFile", "Download the MP4 (Range supported)") { r, c in try await videoFile(r, c) },
            APIRoute(.get, "/hls/{channel}/{file}", operation: "getHLSFile", "HLS playlist and segments of a live channel", auth: false, anyQuery: true) { _, c in try await hlsFile(c) },
            APIRoute(.post, "/v1/tokens", operation: "createToken", "Create an API token (the secret is returned once)", status: 201) { r, c in try await createToken(r, c) },
            APIRoute(.get, "/v1/tokens", operation: "listTokens", "List API tokens", query: QueryParameter.list) { r, _ in try await listTokens(r) },
            APIRoute(.get, "/v1/tokens/{id}", operation: "getToken", "Read an API token") { _, c in try await getToken(c) },
            APIRoute(.delete, "/v1/tokens/{id}", operation: "revokeToken", "Revoke an API token", status: 204) { _, c in try await deleteToken(c) },
        ].map { route in
            var route = route
            if route.requiresAuth && route.scope == nil { route.scope = Self.scope(route.method, route.path) }
            return route
        }
    }

    /// The scope each authenticated route needs: tokens → admin; webhooks, videos, system stats
    /// their own; channels, users, search and the event log → channels:read to read and
    /// channels:write to change; `/v1/system` → any token.
    static func scope(_ method: HTTPRequest.Method, _ path: String) -> TokenScope? {
        if path.hasPrefix("/v1/tokens") { return .admin }
        if path.hasPrefix("/v1/webhooks") { return .webhooks }
        if path.hasPrefix("/v1/videos") { return .videos }
        if path == "/v1/system/stats" { return .statsRead }
        if path.hasPrefix("/v1/channels") || path.hasPrefix("/v1/users") || path == "/v1/search" || path == "/v1/events" {
            return method == .get ? .channelsRead : .channelsWrite
        }
        return nil
    }

    static let channelFilters: [QueryParameter] = [
        .oneOf("status", ["live", "offline"], "Only channels in this state"),
        .string("userId", "Only this user's channels", maxLength: 128),
        .string("tag", "Only channels with this tag", maxLength: 64),
        .string("q", "Name contains (case-insensitive)", maxLength: 200),
        .time("from", "Created at or after (RFC 3339)"),
        .time("to", "Created at or before (RFC 3339)"),
    ]

    static let videoFilters: [QueryParameter] = [
        .string("channelId", "Recordings of this channel", maxLength: 128),
        .string("userId", "Recordings of this user's channels", maxLength: 128),
        .string("q", "Name contains (case-insensitive)", maxLength: 200),
        .time("from", "Created at or after (RFC 3339)"),
        .time("to", "Created at or before (RFC 3339)"),
    ]

    static let eventFilters: [QueryParameter] = [
        QueryParameter("after", .object(["type": .string("integer"), "minimum": .number(0)]),
                       "Events with a greater seq: a poller's position (gapless and commit-ordered, so never one skipped)"),
        .string("type", "Comma-separated event types: " + EventType.logged.map(\.rawValue).joined(separator: ", "), maxLength: 512),
        .string("channelId", "Events of this channel", maxLength: 128),
        .string("userId", "Events of this user's channels", maxLength: 128),
        .time("from", "Created at or after (RFC 3339)"),
        .time("to", "Created before (RFC 3339)"),
    ]

    // MARK: Health

    func readyz() async throws -> Response {
        do {
            try await store.ping()
            return Envelope.response(data: .object(["status": .string("ready"), "store": .string(store.backendName)]))
        } catch {
            return Envelope.error(APIError(.serviceUnavailable, ec: 5030, "store unavailable"))
        }
    }

    func system() -> Response {
        Envelope.response(data: .object([
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
    func parameter(_ context: APIRequestContext, _ name: String) throws -> String {
        guard let raw = context.parameters.get(name), let value = raw.removingPercentEncoding, !value.isEmpty, value.utf8.count <= 128,
              !value.containsControlCharacter
        else { throw APIError.notFound(name) }
        return value
    }
}
