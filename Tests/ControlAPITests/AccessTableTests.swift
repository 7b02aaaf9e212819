import LiveGateModel
import ChannelStore
import ControlAPI
import Foundation
import HTTPTypes
import XCTest

/// Who may call what (docs/api.md, "Who may call what"), walked for every operation of the
/// OpenAPI document × every kind of caller: no credentials, the unbound admin token, an unbound
/// token holding exactly the scope the operation needs, an unbound token holding every other
/// scope, and a token bound to the resource's own user. The expectations are this file's own
/// table, not the server's route table, and an operation the table does not list fails the test:
/// a new route cannot open by omission.
extension ControlAPIConformanceTests {
    enum Expected: Equatable {
        case anonymous
        case anyToken
        /// A token with this scope (or admin); one bound to the resource's user may call it too.
        case scope(String)
        /// Only tokens not bound to a user, holding this scope (or admin).
        case unbound(String)
        /// As `.scope(channels:read)`, and a `stats:read` token too (the read-only operator scope).
        case operatorRead
    }

    static let accessTable: [String: Expected] = [
        "getHealth": .anonymous, "obsGoLive": .anonymous, "getReadiness": .anonymous, "getIngestReadiness": .anonymous, "getMetrics": .anonymous, "getOpenAPIDocument": .anonymous, "getHLSFile": .anonymous,
        "getSystem": .anyToken, "removeNode": .unbound("admin"), "drainNode": .unbound("admin"),
        "getSystemStats": .unbound("stats:read"),
        "createChannel": .scope("channels:write"), "listChannels": .operatorRead, "getChannel": .operatorRead,
        "replaceChannel": .scope("channels:write"), "updateChannel": .scope("channels:write"), "deleteChannel": .scope("channels:write"),
        "resetChannelKey": .scope("channels:write"), "enableChannel": .scope("channels:write"), "disableChannel": .scope("channels:write"),
        "clearChannelCooldown": .unbound("channels:write"), "reconnectChannelPublisher": .scope("channels:write"),
        "getChannelStats": .operatorRead, "listChannelSessions": .operatorRead, "getChannelStatsHistory": .operatorRead,
        "createForward": .scope("channels:write"), "listForwards": .scope("channels:read"), "getForward": .scope("channels:read"),
        "updateForward": .scope("channels:write"), "deleteForward": .scope("channels:write"),
        "search": .scope("channels:read"), "listEvents": .operatorRead, "streamEvents": .operatorRead, "getUsageInsights": .operatorRead, "getChannelThumbnail": .operatorRead,
        "getUserConfig": .scope("channels:read"), "getUserUsage": .scope("channels:read"),
        "replaceUserConfig": .unbound("admin"),
        "listVideos": .scope("videos"), "getVideo": .scope("videos"), "deleteVideo": .scope("videos"), "downloadVideoFile": .scope("videos"), "getVideoPoster": .scope("videos"),
        "createWebhook": .unbound("webhooks"), "listWebhooks": .unbound("webhooks"), "getWebhook": .unbound("webhooks"),
        "updateWebhook": .unbound("webhooks"), "deleteWebhook": .unbound("webhooks"), "testWebhook": .unbound("webhooks"), "rotateWebhookSecret": .unbound("webhooks"),
        "createPlaybackToken": .scope("channels:read"), "createSigningKey": .unbound("admin"), "listSigningKeys": .unbound("admin"),
        "deleteSigningKey": .unbound("admin"),
        "listWebhookDeliveries": .unbound("webhooks"), "redeliverWebhookDelivery": .unbound("webhooks"),
        "createToken": .unbound("admin"), "listTokens": .unbound("admin"), "getToken": .unbound("admin"), "revokeToken": .unbound("admin"),
    ]

    /// A valid body for the operations that take one.
    static func accessBody(_ operation: String, user: String) -> String? {
        switch operation {
        case "createChannel", "replaceChannel": return #"{"name":"n","userId":"\#(user)"}"#
        case "updateChannel": return #"{"name":"renamed"}"#
        case "replaceUserConfig": return #"{"maxChannels":100000}"#
        case "createWebhook": return #"{"url":"http://127.0.0.1:9/hook"}"#
        case "updateWebhook", "updateForward": return #"{"enabled":false}"#
        case "createForward": return #"{"url":"rtmp://127.0.0.1:1/live/x"}"#
        case "createToken": return #"{"scopes":["channels:read"]}"#
        // Authenticated by the key in the body, not by a token: any caller reaches it.
        case "obsGoLive": return #"{"service":"IVS","schema_version":"2024-06-04","authentication":"not-a-key"}"#
        default: return nil
        }
    }

    func testEveryOperationAnswersEveryKindOfTokenAsTheAccessTableSays() async throws {
        let u = self.u
        let store = self.store!
        let allScopes = ["admin", "channels:read", "channels:write", "webhooks", "videos", "stats:read"]
        @Sendable func token(_ scopes: [String], user: String? = nil) async throws -> String {
            let id = "tok_\(UUID().uuidString.prefix(12).lowercased())", secret = "secret-\(UUID().uuidString)"
            try await store.saveToken(APIToken(id: id, secretHash: APITokens.hash(secret), scopes: scopes, userId: user, origin: .api, createdAt: Date()))
            return basic(id, secret)
        }
        let bound = try await token(["channels:read", "channels:write", "videos"], user: u)
        // The videos' files (a delete removes its own; the rest go with the folder).
        let videoFiles = FileManager.default.temporaryDirectory.appendingPathComponent("lg-access-\(UUID())")
        try FileManager.default.createDirectory(at: videoFiles, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: videoFiles) }

        try await withClient { c in
            let doc = try await c.call(.get, "/v1/openapi.json", auth: .some(nil))
            let paths = try XCTUnwrap(doc.body["paths"] as? [String: [String: Any]])
            var operations: [(method: String, path: String, id: String)] = []
            for (path, item) in paths {
                for (method, op) in item where ["get", "post", "put", "patch", "delete"].contains(method) {
                    operations.append((method, path, try XCTUnwrap((op as? [String: Any])?["operationId"] as? String)))
                }
            }
            let documented = Set(operations.map(\.id)), listed = Set(Self.accessTable.keys)
            XCTAssertEqual(documented.subtracting(listed).sorted(), [], "operations with no row in the access table")
            XCTAssertEqual(listed.subtracting(documented).sorted(), [], "rows of the access table with no operation")

            /// Fresh resources of user `u` for one call, so a delete or a key reset never spoils the next.
            func concretePath(_ path: String) async throws -> String {
                var result = path.replacingOccurrences(of: "{userId}", with: u)
                if path.hasPrefix("/v1/channels/{id}") {
                    let channel = try await c.createChannel("acc", user: u)
                    let id = try XCTUnwrap(channel["id"] as? String)
                    result = result.replacingOccurrences(of: "{id}", with: id)
                    if path.contains("{fid}") {
                        let forward = try await store.createForward(id: "fwd_\(UUID().uuidString.prefix(8))", channelId: id, url: "rtmp://127.0.0.1:1/live/y",
                                                                   enabled: true, now: Date())
                        result = result.replacingOccurrences(of: "{fid}", with: forward.id)
                    }
                } else if path.hasPrefix("/v1/webhooks/{id}") {
                    let hook = try await store.createWebhook(id: "wh_\(UUID().uuidString.prefix(8))", secret: "whsec_x",
                                                             fields: WebhookFields(url: "http://127.0.0.1:9/h"), now: Date())
                    result = result.replacingOccurrences(of: "{id}", with: hook.id).replacingOccurrences(of: "{did}", with: "dlv_none")
                } else if path.hasPrefix("/v1/videos/{id}") {
                    let file = videoFiles.appendingPathComponent("\(UUID()).mp4")
                    try Data(repeating: 1, count: 100).write(to: file)
                    let video = Video(id: "vid_\(UUID().uuidString.prefix(8))", channelId: "ch_x", userId: u, sessionId: nil, name: "v.mp4", path: file.path,
                                      durationSec: 1, sizeBytes: 100, videoCodec: "h264", audioCodec: "aac", width: 16, height: 16, createdAt: Date())
                    _ = try await store.createVideo(video, event: .make(type: "video.ready", channelId: video.channelId, userId: u, at: Date(),
                                                                        data: .object(["video": .null])), now: Date())
                    result = result.replacingOccurrences(of: "{id}", with: video.id)
                } else if path.hasPrefix("/v1/signing-keys/{id}") {
                    let id = "sk_\(UUID().uuidString.prefix(8).lowercased())"
                    try await store.createSigningKey(SigningKey(id: id, secret: "AAAA", createdAt: Date()))
                    result = result.replacingOccurrences(of: "{id}", with: id)
                } else if path.hasPrefix("/v1/tokens/{id}") {
                    let id = "tok_victim\(UUID().uuidString.prefix(8).lowercased())"
                    try await store.saveToken(APIToken(id: id, secretHash: APITokens.hash("x"), scopes: ["videos"], origin: .api, createdAt: Date()))
                    result = result.replacingOccurrences(of: "{id}", with: id)
                } else if path.hasPrefix("/v1/system/nodes/{id}") {
                    // A node that stopped long ago, so removing it succeeds.
                    let id = "node-old-\(UUID().uuidString.prefix(8).lowercased())"
                    try await store.registerNode(NodeRecord(id: id, addresses: [], version: "t", startedAt: Date(timeIntervalSinceNow: -7200),
                                                            heartbeatAt: Date(timeIntervalSinceNow: -3600)))
                    result = result.replacingOccurrences(of: "{id}", with: id)
                } else if path == "/v1/events/stream" {
                    result += "?closeAfterSec=1" // open until then
                } else if path.hasPrefix("/hls/") {
                    result = "/hls/ch_none/index.m3u8"
                }
                return result
            }

            var checked = 0
            for op in operations.sorted(by: { $0.id < $1.id }) where listed.contains(op.id) {
                let expected = try XCTUnwrap(Self.accessTable[op.id])
                let method = HTTPRequest.Method(rawValue: op.method.uppercased())!
                let body = Self.accessBody(op.id, user: u)
                func call(_ auth: String??) async throws -> Reply {
                    try await c.call(method, try await concretePath(op.path), body, auth: auth)
                }
                /// Reached the handler: not refused for credentials or scope. Redelivering a
                /// delivery that does not exist and an HLS file of no channel are 404s from the
                /// handler itself; asking a publisher to reconnect, with no gateway behind this
                /// API, is the handler's own 409 `not_live`.
                func reached(_ r: Reply, _ who: String) {
                    XCTAssertFalse([401, 403].contains(r.status), "\(op.id) as \(who): \(r.status) \(r.raw.prefix(300))")
                    if op.id == "reconnectChannelPublisher" {
                        XCTAssertTrue(r.status == 409 && r.raw.contains("not_live"), "\(op.id) as \(who): \(r.raw.prefix(300))")
                    } else if op.id == "getVideoPoster" {
                        // A fake recording made now: its poster "is being made".
                        XCTAssertEqual(r.status, 503, "\(op.id) as \(who): \(r.raw.prefix(300))")
                    } else if op.id == "getChannelThumbnail" {
                        XCTAssertEqual(r.status, 404, "\(op.id) as \(who): an offline channel has no picture: \(r.raw.prefix(300))")
                    } else if !["redeliverWebhookDelivery", "getHLSFile", "testWebhook"].contains(op.id) {
                        XCTAssertLessThan(r.status, 300, "\(op.id) as \(who) succeeds: \(r.raw.prefix(300))")
                    }
                    checked += 1
                }
                func refused(_ r: Reply, _ who: String, scope: String) {
                    XCTAssertEqual(r.status, 403, "\(op.id) as \(who): \(r.raw.prefix(300))")
                    XCTAssertEqual(r.ec, 4030, "\(op.id) as \(who)")
                    XCTAssertEqual(r.data?["scope"] as? String, scope, "\(op.id) as \(who) names the scope")
                    checked += 1
                }
                switch expected {
                case .anonymous:
                    reached(try await call(.some(nil)), "no credentials")
                case .anyToken:
                    let anonymous = try await call(.some(nil))
                    XCTAssertEqual(anonymous.status, 401, op.id)
                    reached(try await call(.none), "admin")
                    reached(try await call(.some(try await token(["videos"]))), "a videos token")
                    reached(try await call(.some(bound)), "a bound token")
                case .operatorRead:
                    let anonymous = try await call(.some(nil))
                    XCTAssertEqual(anonymous.status, 401, "\(op.id) without credentials")
                    reached(try await call(.none), "unbound admin")
                    reached(try await call(.some(try await token(["channels:read"]))), "an unbound channels:read token")
                    reached(try await call(.some(try await token(["stats:read"]))), "a stats:read token (the operator's read-only scope)")
                    reached(try await call(.some(bound)), "a token bound to the owner")
                    refused(try await call(.some(try await token(["webhooks", "videos"]))), "an unbound token with webhooks and videos", scope: "channels:read")
                case .scope(let scope), .unbound(let scope):
                    let anonymous = try await call(.some(nil))
                    XCTAssertEqual(anonymous.status, 401, "\(op.id) without credentials")
                    XCTAssertEqual(anonymous.ec, 4010)
                    reached(try await call(.none), "unbound admin")
                    if scope != "admin" { reached(try await call(.some(try await token([scope]))), "an unbound \(scope) token") }
                    // Every other scope: writing channels implies reading them, nothing else implies anything.
                    let others = allScopes.filter { $0 != "admin" && $0 != scope && !(scope == "channels:read" && $0 == "channels:write") }
                    refused(try await call(.some(try await token(others))), "an unbound token with \(others)", scope: scope)
                    let boundMay = expected == .scope(scope) && ["channels:read", "channels:write", "videos"].contains(scope)
                    let viaBound = try await call(.some(bound))
                    if boundMay { reached(viaBound, "a token bound to the owner") } else { refused(viaBound, "a token bound to the owner", scope: scope) }
                }
            }
            XCTAssertGreaterThan(checked, 150)
        }
    }

    /// The hole integrators found: a token bound to a user raised that user's limits, and `{}`
    /// wiped them. Limits are the operator's: only an unbound admin token changes them.
    func testATokenBoundToAUserCannotChangeThatUsersLimits() async throws {
        let u = self.u
        let store = self.store!
        try await store.saveToken(APIToken(id: "tok_alice", secretHash: APITokens.hash("alice-secret"), scopes: ["channels:write"], userId: u,
                                           origin: .api, createdAt: Date()))
        try await store.saveToken(APIToken(id: "tok_writer", secretHash: APITokens.hash("writer-secret"), scopes: ["channels:write"],
                                           origin: .api, createdAt: Date()))
        try await withClient { c in
            let set = try await c.call(.put, "/v1/users/\(u)/config", #"{"maxChannels":2,"maxConcurrentLive":1}"#)
            XCTAssertEqual(set.status, 200, set.raw)
            for (who, auth) in [("bound", basic("tok_alice", "alice-secret")), ("unbound channels:write", basic("tok_writer", "writer-secret"))] {
                for body in [#"{"maxChannels":1000000,"maxConcurrentLive":100000}"#, "{}"] {
                    let r = try await c.call(.put, "/v1/users/\(u)/config", body, auth: .some(auth))
                    XCTAssertEqual(r.status, 403, "\(who) \(body): \(r.raw)")
                    XCTAssertEqual(r.ec, 4030)
                    XCTAssertEqual(r.data?["scope"] as? String, "admin")
                }
            }
            let read = try await c.call(.get, "/v1/users/\(u)/config", auth: .some(basic("tok_alice", "alice-secret")))
            XCTAssertEqual(read.status, 200, "a bound token still reads its own limits")
            XCTAssertEqual(read.data?["maxChannels"] as? Int, 2)
            XCTAssertEqual(read.data?["maxConcurrentLive"] as? Int, 1, "nothing was changed or wiped")
        }
    }

    /// `stats:read` watches: it lists and reads channels, their stats and history, sessions and
    /// events, but never a stream key — and it changes nothing.
    func testTheReadOnlyOperatorScopeSeesChannelsButNoStreamKey() async throws {
        let u = self.u
        let store = self.store!
        try await store.saveToken(APIToken(id: "tok_watch", secretHash: APITokens.hash("watch-secret"), scopes: ["stats:read"], origin: .api, createdAt: Date()))
        let watcher = basic("tok_watch", "watch-secret")
        try await withClient { c in
            let channel = try await c.createChannel("watched", user: u)
            let id = try XCTUnwrap(channel["id"] as? String)
            XCTAssertNotNil(channel["streamId"] as? String, "its creator sees the key")
            let one = try await c.call(.get, "/v1/channels/\(id)", auth: .some(watcher))
            XCTAssertEqual(one.status, 200, one.raw)
            XCTAssertTrue(one.data?["streamId"] is NSNull, "no stream key for stats:read: \(one.raw)")
            XCTAssertFalse(one.raw.contains(try XCTUnwrap(channel["streamId"] as? String)))
            let list = try await c.call(.get, "/v1/channels", auth: .some(watcher))
            XCTAssertEqual(list.status, 200)
            let items = try XCTUnwrap(list.data?["items"] as? [[String: Any]])
            XCTAssertFalse(items.isEmpty)
            XCTAssertTrue(items.allSatisfy { $0["streamId"] is NSNull }, list.raw)
            let history = try await c.call(.get, "/v1/channels/\(id)/stats/history?window=15m", auth: .some(watcher))
            XCTAssertEqual(history.status, 200, history.raw)
            XCTAssertEqual(history.data?["windowSec"] as? Double, 900)
            XCTAssertEqual((history.data?["points"] as? [Any])?.count, 0, "offline, nothing kept")
            let bad = try await c.call(.get, "/v1/channels/\(id)/stats/history?window=2h", auth: .some(watcher))
            XCTAssertEqual(bad.status, 400, bad.raw)
            let write = try await c.call(.patch, "/v1/channels/\(id)", #"{"name":"x"}"#, auth: .some(watcher))
            XCTAssertEqual(write.status, 403, "it changes nothing")
            let key = try await c.call(.post, "/v1/channels/\(id)/reset-key", auth: .some(watcher))
            XCTAssertEqual(key.status, 403)
        }
    }
}
