import LiveGateModel
import ChannelStore
import ControlAPI
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import TestSupport
import XCTest

/// Every endpoint's success and error paths, asserting status, `ec` and body (docs/contract.md §4),
/// run on SQLite and on PostgreSQL.
class ControlAPITestCase: XCTestCase {
    var store: SQLChannelStore!
    var api: ControlAPI!
    let tokenID = "tok_test"
    let tokenSecret = "s3cret-Value"
    /// Unique user ids per test (each test has its own database too; see `PostgresScratchDatabase`).
    var u = ""

    func makeStore() async throws -> SQLChannelStore { throw XCTSkip("abstract suite; runs in its subclasses") }

    override func setUp() async throws {
        u = "u\(UUID().uuidString.prefix(8).lowercased())"
        store = try await makeStore()
        try await store.saveToken(APIToken(id: tokenID, secretHash: APITokens.hash(tokenSecret), scopes: ["admin"], origin: .configured, createdAt: Date()))
        var configuration = ControlAPIConfiguration(version: "test", nodeId: "node-1", publicHost: "live.example.com", rtmpPort: 1935, httpPort: 8080)
        // A drain that stops nothing (the real one is GatewayBinaryTests'): what the API answers.
        configuration.drain = { (0, Date(timeIntervalSince1970: 1_900_000_000)) }
        api = ControlAPI(store: store, configuration: configuration)
    }

    override func tearDown() async throws { await store?.close() }

    struct Reply {
        var status: Int
        var headers: HTTPFields
        var body: [String: Any]
        var raw: String
        var ec: Int? { body["ec"] as? Int }
        var data: [String: Any]? { body["data"] as? [String: Any] }
        var items: [[String: Any]] { data?["items"] as? [[String: Any]] ?? [] }
        var fields: [String: String] { (data?["fields"] as? [String: String]) ?? [:] }
    }

    /// Runs `body` against the router with a client that speaks JSON and Basic auth.
    func withClient(_ mode: TestingSetup = .router, _ body: @escaping @Sendable (Client) async throws -> Void) async throws {
        let app = Application(router: api.makeRouter())
        let id = tokenID, secret = tokenSecret
        try await app.test(mode) { client in try await body(Client(client: client, tokenID: id, tokenSecret: secret)) }
    }

    struct Client: Sendable {
        let client: any TestClientProtocol
        let tokenID: String
        let tokenSecret: String

        /// `json` is sent as `application/json`; `rawBody` as it is, with only the headers given.
        func call(_ method: HTTPRequest.Method, _ uri: String, _ json: String? = nil, auth: String?? = .none,
                  headers extra: HTTPFields = [:], rawBody: String? = nil) async throws -> Reply {
            var headers = extra
            switch auth {
            case .none: headers[.authorization] = "Basic " + Data("\(tokenID):\(tokenSecret)".utf8).base64EncodedString()
            case .some(.some(let value)): headers[.authorization] = value
            case .some(.none): break
            }
            if json != nil { headers[.contentType] = "application/json" }
            return try await client.execute(uri: uri, method: method, headers: headers, body: (json ?? rawBody).map { ByteBuffer(string: $0) }) { r in
                let raw = String(buffer: r.body)
                let object = (try? JSONSerialization.jsonObject(with: Data(raw.utf8))) as? [String: Any] ?? [:]
                return Reply(status: Int(r.status.code), headers: r.headers, body: object, raw: raw)
            }
        }

        func createChannel(_ name: String, user: String, extra: String = "") async throws -> [String: Any] {
            let r = try await call(.post, "/v1/channels", "{\"name\":\"\(name)\",\"userId\":\"\(user)\"\(extra)}")
            XCTAssertEqual(r.status, 201, r.raw)
            return r.data ?? [:]
        }
    }
}

class ControlAPIConformanceTests: ControlAPITestCase {
    func testCreateChannelReturns201WithStreamUrlAndStreamId() async throws {
        let u = self.u
        try await withClient { c in
            let r = try await c.call(.post, "/v1/channels", #"{"name":"demo","userId":"\#(u)","tags":["news"]}"#)
            XCTAssertEqual(r.status, 201)
            XCTAssertEqual(r.ec, 0)
            XCTAssertEqual(r.body["msg"] as? String, "ok")
            XCTAssertEqual(r.headers[.contentType]?.hasPrefix("application/json"), true)
            let d = try XCTUnwrap(r.data)
            XCTAssertEqual(d["streamUrl"] as? String, "rtmp://live.example.com:1935/live")
            let key = try XCTUnwrap(d["streamId"] as? String)
            XCTAssertGreaterThanOrEqual(key.count, 43, "256-bit key")
            XCTAssertTrue((d["id"] as? String)?.hasPrefix("ch_") == true)
            XCTAssertEqual(d["status"] as? String, "offline")
            XCTAssertEqual(d["enabled"] as? Bool, true)
            XCTAssertEqual(d["hls"] as? Bool, true)
            XCTAssertEqual(d["record"] as? Bool, false)
            XCTAssertEqual(d["reconnectWindowSec"] as? Int, 10)
            XCTAssertEqual(d["duplicatePolicy"] as? String, "reject")
            XCTAssertTrue(d["session"] is NSNull)
            XCTAssertTrue(d["lastLiveAt"] is NSNull)
            XCTAssertEqual(d["tags"] as? [String], ["news"])
            let second = try await c.createChannel("demo", user: u)
            XCTAssertNotEqual(second["streamId"] as? String, key)

            let got = try await c.call(.get, "/v1/channels/\(d["id"] as! String)")
            XCTAssertEqual(got.status, 200)
            XCTAssertEqual(got.data?["streamId"] as? String, key)
        }
    }

    func testAuthenticationErrors() async throws {
        try await withClient { c in
            for auth: String? in [nil, "Basic " + Data("tok_test:wrong".utf8).base64EncodedString(),
                                  "Basic " + Data("nobody:s3cret-Value".utf8).base64EncodedString(), "Basic !!!", "Bearer abc",
                                  "Basic " + Data("no-colon".utf8).base64EncodedString()] {
                let r = try await c.call(.get, "/v1/channels", auth: .some(auth))
                XCTAssertEqual(r.status, 401, "\(auth ?? "none")")
                XCTAssertEqual(r.ec, 4010)
                XCTAssertEqual(r.headers[.wwwAuthenticate], "Basic realm=\"livegate\"")
            }
            let health = try await c.call(.get, "/healthz", auth: .some(nil))
            XCTAssertEqual(health.status, 200, "health needs no auth")
        }
    }

    func testMalformedBodiesAndWrongTypes() async throws {
        let u = self.u
        try await withClient { c in
            for bad in ["{", "not json", "[1,2]", "\"str\"", ""] {
                let r = try await c.call(.post, "/v1/channels", bad)
                XCTAssertEqual(r.status, 400, bad)
                XCTAssertEqual(r.ec, 4000)
            }
            let r = try await c.call(.post, "/v1/channels", #"{"name":"","userId":5,"hls":"yes","reconnectWindowSec":301,"duplicatePolicy":"kick","tags":"x","metadata":[],"streamId":"mine","bogus":1}"#)
            XCTAssertEqual(r.status, 422)
            XCTAssertEqual(r.ec, 4220)
            XCTAssertEqual(r.fields["name"], "must not be empty")
            XCTAssertEqual(r.fields["userId"], "must be a string")
            XCTAssertEqual(r.fields["hls"], "must be true or false")
            XCTAssertEqual(r.fields["reconnectWindowSec"], "must be between 0 and 300")
            XCTAssertEqual(r.fields["duplicatePolicy"], "must be reject or replace")
            XCTAssertEqual(r.fields["tags"], "must be an array of strings")
            XCTAssertNotNil(r.fields["metadata"])
            XCTAssertEqual(r.fields["streamId"], "is read-only")
            XCTAssertEqual(r.fields["bogus"], "unknown field")
            let missing = try await c.call(.post, "/v1/channels", #"{"userId":"\#(u)"}"#)
            XCTAssertEqual(missing.fields["name"], "is required")
            let fractional = try await c.call(.post, "/v1/channels", #"{"name":"n","userId":"\#(u)","reconnectWindowSec":1.5}"#)
            XCTAssertEqual(fractional.fields["reconnectWindowSec"], "must be a whole number")
        }
    }

    func testUnknownResourceRouteAndMethod() async throws {
        try await withClient { c in
            let missing = try await c.call(.get, "/v1/channels/ch_nope")
            XCTAssertEqual(missing.status, 404)
            XCTAssertEqual(missing.ec, 4040)
            for (method, uri) in [(HTTPRequest.Method.patch, "/v1/channels/ch_nope"), (.delete, "/v1/channels/ch_nope"),
                                  (.post, "/v1/channels/ch_nope/reset-key"), (.post, "/v1/channels/ch_nope/disable"),
                                  (.get, "/v1/webhooks/wh_nope"), (.delete, "/v1/webhooks/wh_nope")] {
                let r = try await c.call(method, uri, method == .patch ? "{}" : nil)
                XCTAssertEqual(r.status, 404, "\(method) \(uri)")
                XCTAssertEqual(r.ec, 4040)
            }
            let route = try await c.call(.get, "/v1/nothing-here")
            XCTAssertEqual(route.status, 404)
            XCTAssertEqual(route.ec, 4040)
            let notAllowed = try await c.call(.delete, "/v1/system")
            XCTAssertEqual(notAllowed.status, 405)
            XCTAssertEqual(notAllowed.ec, 4050)
            XCTAssertEqual(notAllowed.headers[.allow], "GET, HEAD")
            let channels = try await c.call(.put, "/v1/channels", "{}")
            XCTAssertEqual(channels.status, 405)
            XCTAssertEqual(Set((channels.headers[.allow] ?? "").components(separatedBy: ", ")), ["POST", "GET", "HEAD"])
        }
    }

    func testOversizedBodyIs413() async throws {
        try await withClient { c in
            let big = "{\"name\":\"" + String(repeating: "a", count: 70_000) + "\",\"userId\":\"u\"}"
            let r = try await c.call(.post, "/v1/channels", big)
            XCTAssertEqual(r.status, 413)
            XCTAssertEqual(r.ec, 4130)
        }
    }

    func testMaxChannelsLimitAnswers403With4031() async throws {
        let u = self.u
        try await withClient { c in
            let put = try await c.call(.put, "/v1/users/\(u)/config", #"{"maxChannels":1,"maxConcurrentLive":2,"allowedVideoCodecs":["h264"]}"#)
            XCTAssertEqual(put.status, 200, put.raw)
            XCTAssertEqual(put.data?["maxChannels"] as? Int, 1)
            XCTAssertTrue(put.data?["maxBitrateKbps"] is NSNull)
            _ = try await c.createChannel("one", user: u)
            let r = try await c.call(.post, "/v1/channels", #"{"name":"two","userId":"\#(u)"}"#)
            XCTAssertEqual(r.status, 403)
            XCTAssertEqual(r.ec, 4031)
            XCTAssertEqual(r.data?["limit"] as? String, "maxChannels")
            let usage = try await c.call(.get, "/v1/users/\(u)/usage")
            XCTAssertEqual((usage.data?["channels"] as? [String: Any])?["used"] as? Int, 1)
            XCTAssertEqual((usage.data?["channels"] as? [String: Any])?["limit"] as? Int, 1)
            XCTAssertEqual((usage.data?["liveChannels"] as? [String: Any])?["limit"] as? Int, 2)
            let badConfig = try await c.call(.put, "/v1/users/\(u)/config", #"{"maxChannels":-1,"maxFps":"fast","allowedVideoCodecs":["mpeg2"],"x":1}"#)
            XCTAssertEqual(badConfig.status, 422)
            XCTAssertEqual(Set(badConfig.fields.keys), ["maxChannels", "maxFps", "allowedVideoCodecs", "x"])
            let getConfig = try await c.call(.get, "/v1/users/\(u)/config")
            XCTAssertEqual(getConfig.data?["maxChannels"] as? Int, 1, "a refused PUT changes nothing")
        }
    }

    func testPutAndPatchSemantics() async throws {
        let u = self.u
        try await withClient { c in
            let ch = try await c.createChannel("orig", user: u, extra: #","description":"d","tags":["a"],"record":true,"reconnectWindowSec":30"#)
            let id = ch["id"] as! String
            let patched = try await c.call(.patch, "/v1/channels/\(id)", #"{"name":"patched","duplicatePolicy":"replace"}"#)
            XCTAssertEqual(patched.status, 200)
            XCTAssertEqual(patched.data?["name"] as? String, "patched")
            XCTAssertEqual(patched.data?["description"] as? String, "d", "PATCH leaves other fields")
            XCTAssertEqual(patched.data?["record"] as? Bool, true)
            XCTAssertEqual(patched.data?["duplicatePolicy"] as? String, "replace")
            let put = try await c.call(.put, "/v1/channels/\(id)", #"{"name":"replaced","userId":"\#(u)"}"#)
            XCTAssertEqual(put.status, 200)
            XCTAssertEqual(put.data?["description"] as? String, "", "PUT resets omitted fields")
            XCTAssertEqual(put.data?["record"] as? Bool, false)
            XCTAssertEqual(put.data?["reconnectWindowSec"] as? Int, 10)
            XCTAssertEqual(put.data?["streamId"] as? String, ch["streamId"] as? String, "the key survives PUT")
            let putMissing = try await c.call(.put, "/v1/channels/\(id)", #"{"name":"x"}"#)
            XCTAssertEqual(putMissing.status, 422)
            XCTAssertEqual(putMissing.fields["userId"], "is required")
            for field in ["id", "streamId", "streamUrl", "status", "createdAt", "session"] {
                let r = try await c.call(.patch, "/v1/channels/\(id)", "{\"\(field)\":\"x\"}")
                XCTAssertEqual(r.status, 422, field)
                XCTAssertEqual(r.fields[field], "is read-only")
            }
        }
    }

    func testResetKeyEnableDisableDelete() async throws {
        let u = self.u
        try await withClient { c in
            let ch = try await c.createChannel("k", user: u)
            let id = ch["id"] as! String
            let reset = try await c.call(.post, "/v1/channels/\(id)/reset-key")
            XCTAssertEqual(reset.status, 200)
            XCTAssertNotEqual(reset.data?["streamId"] as? String, ch["streamId"] as? String)
            let disabled = try await c.call(.post, "/v1/channels/\(id)/disable")
            XCTAssertEqual(disabled.data?["enabled"] as? Bool, false)
            let enabled = try await c.call(.post, "/v1/channels/\(id)/enable")
            XCTAssertEqual(enabled.data?["enabled"] as? Bool, true)
            let deleted = try await c.call(.delete, "/v1/channels/\(id)")
            XCTAssertEqual(deleted.status, 204)
            XCTAssertEqual(deleted.raw, "")
            let gone = try await c.call(.get, "/v1/channels/\(id)")
            XCTAssertEqual(gone.status, 404)
        }
    }

    /// A limit's cooldown is shown with the channel and ended by clear-cooldown or by easing
    /// that limit (docs/contract.md §2, "Limits") — on SQLite and PostgreSQL.
    func testACooldownIsShownAndClearedByTheAPIOrByEasingTheLimit() async throws {
        let u = self.u, store = self.store!
        try await withClient { c in
            let id = try await c.createChannel("cool", user: u)["id"] as! String
            func shown() async throws -> (until: Any?, limit: Any?) {
                let data = try await c.call(.get, "/v1/channels/\(id)").data
                return (data?["cooldownUntil"], data?["cooldownLimit"])
            }
            let none = try await shown()
            XCTAssertTrue(none.until is NSNull && none.limit is NSNull, "no cooldown: null")
            // A session that a limit ended, as the coordinator records it.
            func coolDown() async throws {
                let session = SessionRecord(id: "ses_" + UUID().uuidString.prefix(8).lowercased(), channelId: id, nodeId: "n", startedAt: Date(),
                                            remoteAddr: "10.0.0.1:1", encoder: "x")
                _ = try await store.startSession(session, event: .make(type: "channel.live", channelId: id, userId: u, at: Date(), data: .object([:])), now: Date())
                _ = try await store.endSession(id: session.id, reason: "limit_exceeded", endedAt: Date(), now: Date(),
                                               event: .make(type: "channel.offline", channelId: id, userId: u, at: Date(), data: .object([:])), byNode: nil,
                                               cooldown: (Date().addingTimeInterval(600), .maxFps))
            }
            _ = try await c.call(.put, "/v1/users/\(u)/config", #"{"maxFps":30}"#)
            try await coolDown()
            let cooling = try await shown()
            XCTAssertEqual(cooling.limit as? String, "maxFps")
            let until = try XCTUnwrap(cooling.until as? String)
            XCTAssertGreaterThan(Timestamp.parse(until).timeIntervalSinceNow, 590)
            // clear-cooldown: the operator's call.
            let cleared = try await c.call(.post, "/v1/channels/\(id)/clear-cooldown")
            XCTAssertEqual(cleared.status, 200, cleared.raw)
            XCTAssertTrue(cleared.data?["cooldownUntil"] is NSNull)
            XCTAssertTrue(cleared.data?["cooldownLimit"] is NSNull)
            let afterClear = try await shown()
            XCTAssertTrue(afterClear.until is NSNull)
            let missing = try await c.call(.post, "/v1/channels/ch_nope/clear-cooldown")
            XCTAssertEqual(missing.status, 404)
            // Tightening the limit keeps the cooldown; raising it ends it; so does removing it.
            try await coolDown()
            _ = try await c.call(.put, "/v1/users/\(u)/config", #"{"maxFps":25}"#)
            let tightened = try await shown()
            XCTAssertEqual(tightened.limit as? String, "maxFps")
            _ = try await c.call(.put, "/v1/users/\(u)/config", #"{"maxFps":60}"#)
            let raised = try await shown()
            XCTAssertTrue(raised.until is NSNull, "raised: the cooldown is over")
            try await coolDown()
            _ = try await c.call(.put, "/v1/users/\(u)/config", #"{}"#)
            let removed = try await shown()
            XCTAssertTrue(removed.until is NSNull, "removed: the cooldown is over")
        }
    }

    func testListPaginationFiltersAndBadQueries() async throws {
        let u = self.u
        try await withClient { c in
            for i in 0..<45 { _ = try await c.createChannel("item \(i)", user: u, extra: i % 3 == 0 ? #","tags":["even3"]"# : "") }
            var ids: [String] = []
            var cursor: String? = nil
            var pages = 0
            repeat {
                let r = try await c.call(.get, "/v1/channels?userId=\(u)&limit=20" + (cursor.map { "&cursor=\($0)" } ?? ""))
                XCTAssertEqual(r.status, 200)
                ids += r.items.compactMap { $0["id"] as? String }
                cursor = r.data?["nextCursor"] as? String
                pages += 1
            } while cursor != nil && pages < 10
            XCTAssertEqual(pages, 3)
            XCTAssertEqual(ids.count, 45)
            XCTAssertEqual(Set(ids).count, 45)
            let tagged = try await c.call(.get, "/v1/channels?userId=\(u)&tag=even3&limit=100")
            XCTAssertEqual(tagged.items.count, 15)
            let named = try await c.call(.get, "/v1/channels?userId=\(u)&q=ITEM%201&limit=100")
            XCTAssertEqual(named.items.count, 11, "item 1, 10–19")
            let defaultLimit = try await c.call(.get, "/v1/channels?userId=\(u)")
            XCTAssertEqual(defaultLimit.items.count, 20)
            for bad in ["limit=0", "limit=101", "limit=abc", "cursor=%25%25", "status=dead", "from=yesterday"] {
                let r = try await c.call(.get, "/v1/channels?\(bad)")
                XCTAssertEqual(r.status, 400, bad)
                XCTAssertEqual(r.ec, 4000)
            }
        }
    }

    func testWebhooksCRUDWithSecretShownOnce() async throws {
        try await withClient { c in
            let created = try await c.call(.post, "/v1/webhooks", #"{"url":"http://127.0.0.1:9999/hook","events":["channel.live","channel.offline"]}"#)
            XCTAssertEqual(created.status, 201, created.raw)
            let secret = try XCTUnwrap(created.data?["secret"] as? String)
            XCTAssertTrue(secret.hasPrefix("whsec_"))
            XCTAssertEqual(Data(base64Encoded: String(secret.dropFirst(6)))?.count, 32)
            let id = try XCTUnwrap(created.data?["id"] as? String)
            let got = try await c.call(.get, "/v1/webhooks/\(id)")
            XCTAssertEqual(got.status, 200)
            XCTAssertNil(got.data?["secret"], "the secret is shown only on creation")
            XCTAssertEqual(got.data?["events"] as? [String], ["channel.live", "channel.offline"])
            let patched = try await c.call(.patch, "/v1/webhooks/\(id)", #"{"enabled":false,"userIds":["u1"]}"#)
            XCTAssertEqual(patched.data?["enabled"] as? Bool, false)
            XCTAssertEqual(patched.data?["userIds"] as? [String], ["u1"])
            let list = try await c.call(.get, "/v1/webhooks?limit=100")
            XCTAssertTrue(list.items.contains { $0["id"] as? String == id })
            XCTAssertFalse(list.items.contains { $0["secret"] != nil })
            for bad in [#"{"url":"ftp://x/y"}"#, #"{"url":"not a url"}"#, #"{"url":"http://u:p@h/x"}"#, #"{}"#,
                        #"{"url":"http://h/x","events":["channel.exploded"]}"#, #"{"url":"http://h/x","secret":"mine"}"#] {
                let r = try await c.call(.post, "/v1/webhooks", bad)
                XCTAssertEqual(r.status, 422, bad)
                XCTAssertEqual(r.ec, 4220)
            }
            let deleted = try await c.call(.delete, "/v1/webhooks/\(id)")
            XCTAssertEqual(deleted.status, 204)
        }
    }

    /// Deleting a webhook always works at once (issue #12), also with a delivery in flight — it
    /// used to answer 409 almost every time a dead receiver was being retried; disabling one
    /// drops what was waiting for it, recorded as `dropped`.
    func testDeletingOrDisablingAWebhookAlwaysWorks() async throws {
        let store = self.store!
        try await withClient { c in
            let created = try await c.call(.post, "/v1/webhooks", #"{"url":"http://127.0.0.1:9/hook"}"#)
            let id = try XCTUnwrap(created.data?["id"] as? String)
            // A ping in flight (the test endpoint marks its delivery 'sending' until answered).
            _ = try await store.appendPing(.make(type: "webhook.ping", channelId: nil, userId: nil, at: Date(), data: .object([:])),
                                           webhookId: id, now: Date())
            let r = try await c.call(.delete, "/v1/webhooks/\(id)")
            XCTAssertEqual(r.status, 204)
            let gone = try await c.call(.get, "/v1/webhooks/\(id)")
            XCTAssertEqual(gone.status, 404)

            let other = try await c.call(.post, "/v1/webhooks", #"{"url":"http://127.0.0.1:9/other"}"#)
            let otherId = try XCTUnwrap(other.data?["id"] as? String)
            _ = try await store.appendEvent(.make(type: "channel.live", channelId: "ch_x", userId: "u", at: Date(), data: .object([:])), now: Date())
            let before = try await c.call(.get, "/v1/webhooks/\(otherId)/deliveries")
            XCTAssertEqual(before.items.map { $0["state"] as? String }, ["pending"])
            let disabled = try await c.call(.patch, "/v1/webhooks/\(otherId)", #"{"enabled":false}"#)
            XCTAssertEqual(disabled.status, 200)
            let after = try await c.call(.get, "/v1/webhooks/\(otherId)/deliveries")
            XCTAssertEqual(after.items.map { $0["state"] as? String }, ["dropped"])
        }
    }

    func testSearchSystemHealthAndEvents() async throws {
        let u = self.u
        try await withClient { c in
            _ = try await c.createChannel("Findable Show", user: u)
            let found = try await c.call(.get, "/v1/search?q=findable&userId=\(u)")
            XCTAssertEqual(found.items.count, 1)
            XCTAssertEqual(found.items.first?["type"] as? String, "channel")
            let videos = try await c.call(.get, "/v1/search?type=video&userId=\(u)")
            XCTAssertEqual(videos.status, 200)
            XCTAssertEqual(videos.items.count, 0)
            let badType = try await c.call(.get, "/v1/search?type=user")
            XCTAssertEqual(badType.status, 400)
            let badDate = try await c.call(.get, "/v1/search?from=2026-13-45")
            XCTAssertEqual(badDate.status, 400)
            let ranged = try await c.call(.get, "/v1/search?userId=\(u)&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z")
            XCTAssertEqual(ranged.items.count, 1)

            let ch = try await c.createChannel("stats", user: u)
            let stats = try await c.call(.get, "/v1/channels/\(ch["id"] as! String)/stats")
            XCTAssertEqual(stats.status, 200)
            XCTAssertEqual(stats.data?["status"] as? String, "offline")
            XCTAssertEqual(stats.data?["bitrateKbps"] as? Int, 0)
            let sysStats = try await c.call(.get, "/v1/system/stats")
            XCTAssertEqual(sysStats.status, 200)
            XCTAssertNotNil(sysStats.data?["cpuSeconds"])
            XCTAssertGreaterThan(sysStats.data?["memoryRssBytes"] as? Double ?? Double(sysStats.data?["memoryRssBytes"] as? Int ?? 0), 1_000_000)
            XCTAssertEqual((sysStats.data?["store"] as? [String: Any])?["healthy"] as? Bool, true)

            let system = try await c.call(.get, "/v1/system")
            XCTAssertEqual(system.data?["version"] as? String, "test")
            XCTAssertEqual(system.data?["nodeId"] as? String, "node-1")
            XCTAssertEqual((system.data?["ports"] as? [String: Any])?["rtmp"] as? Int, 1935)
            XCTAssertNotNil(system.data?["uptimeSec"])
            let ready = try await c.call(.get, "/readyz", auth: .some(nil))
            XCTAssertEqual(ready.status, 200)
            let ingest = try await c.call(.get, "/readyz/ingest", auth: .some(nil))
            XCTAssertEqual(ingest.status, 200)
            XCTAssertEqual(ingest.data?["status"] as? String, "ready")
            let events = try await c.call(.get, "/v1/events?after=0")
            XCTAssertEqual(events.status, 200)
            let badAfter = try await c.call(.get, "/v1/events?after=-5")
            XCTAssertEqual(badAfter.status, 400)
        }
    }

    /// The OpenAPI document lists exactly the routes that answer: every documented operation is
    /// reachable (never "route not found" or 405), and every answer is the documented envelope.
    func testOpenAPIDocumentMatchesTheRoutes() async throws {
        try await withClient { c in
            let doc = try await c.call(.get, "/v1/openapi.json", auth: .some(nil))
            XCTAssertEqual(doc.status, 200)
            XCTAssertEqual(doc.body["openapi"] as? String, "3.1.0")
            let paths = try XCTUnwrap(doc.body["paths"] as? [String: [String: Any]])
            XCTAssertGreaterThanOrEqual(paths.count, 15)
            var operations = 0
            for (path, methods) in paths {
                let concrete = path.replacingOccurrences(of: "{id}", with: "zz_missing").replacingOccurrences(of: "{userId}", with: "someone")
                    + (path == "/v1/events/stream" ? "?closeAfterSec=1" : "") // open until then
                for method in methods.keys {
                    let m = HTTPRequest.Method(method.uppercased())!
                    let r = try await c.call(m, concrete, [.post, .put, .patch].contains(m) ? "{}" : nil)
                    operations += 1
                    XCTAssertNotEqual(r.status, 405, "\(method) \(path)")
                    XCTAssertNotEqual(r.body["msg"] as? String, "route not found", "\(method) \(path)")
                    XCTAssertLessThan(r.status, 500, "\(method) \(path): \(r.raw)")
                }
            }
            XCTAssertGreaterThanOrEqual(operations, 20)
            // operationIds a generated client reads well: unique, camelCase, named for what they do.
            let ids = paths.values.flatMap { $0.values.compactMap { ($0 as? [String: Any])?["operationId"] as? String } }
            XCTAssertEqual(ids.count, operations)
            XCTAssertEqual(Set(ids).count, ids.count, "unique")
            XCTAssertTrue(ids.allSatisfy { $0.range(of: "^[a-z][A-Za-z]*$", options: .regularExpression) != nil }, "\(ids.sorted())")
            XCTAssertTrue(Set(["createChannel", "listChannels", "getChannel", "deleteChannel", "listEvents", "createToken"]).isSubset(of: Set(ids)))
            XCTAssertEqual((paths["/v1/channels"]?["post"] as? [String: Any])?["operationId"] as? String, "createChannel")
        }
    }

    /// No input makes the API answer 500: random bodies at every writing endpoint.
    func testRandomBodiesNeverCause500() async throws {
        let u = self.u
        try await withClient { c in
            let ch = try await c.createChannel("target", user: u)
            let id = ch["id"] as! String
            var rng = SystemRandomNumberGenerator()
            let pieces = ["{", "}", "[", "]", "\"name\"", ":", ",", "\"userId\"", "null", "true", "1e999", "-0", "\"\\u0000\"", "\"tags\"",
                          "\"metadata\"", "{}", "[]", "\"x\"", "12345678901234567890", "\"maxFps\"", "\"url\"", "\"events\""]
            for i in 0..<300 {
                let body = (0..<Int.random(in: 1...12, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
                let targets: [(HTTPRequest.Method, String)] = [(.post, "/v1/channels"), (.put, "/v1/channels/\(id)"), (.patch, "/v1/channels/\(id)"),
                                                               (.put, "/v1/users/\(u)/config"), (.post, "/v1/webhooks")]
                let (m, uri) = targets[i % targets.count]
                let r = try await c.call(m, uri, body)
                XCTAssertLessThan(r.status, 500, "\(m) \(uri) \(body): \(r.raw)")
                XCTAssertNotNil(r.ec, r.raw)
            }
        }
    }

    /// Through a real HTTP server socket, not just the router.
    func testLiveServerRoundTrip() async throws {
        let u = self.u
        try await withClient(.live) { c in
            let r = try await c.call(.post, "/v1/channels", #"{"name":"live","userId":"\#(u)"}"#)
            XCTAssertEqual(r.status, 201)
            let big = try await c.call(.post, "/v1/channels", String(repeating: " ", count: 70_000))
            XCTAssertEqual(big.status, 413)
            XCTAssertEqual(big.ec, 4130)
        }
    }
}

final class SQLiteControlAPITests: ControlAPIConformanceTests {
    override func makeStore() async throws -> SQLChannelStore {
        try await StoreFactory.open(url: "", dataDir: FileManager.default.temporaryDirectory.appendingPathComponent("lg-api-\(UUID())").path,
                                    logger: Logger(label: "test"))
    }

    func testBackendIsSQLite() { XCTAssertEqual(store.backendName, "sqlite") }
}

final class PostgresControlAPITests: ControlAPIConformanceTests {
    /// A fresh database per test, dropped afterwards: tests never see each other's rows.
    var scratch: PostgresScratchDatabase?

    override func makeStore() async throws -> SQLChannelStore {
        guard let url = ProcessInfo.processInfo.environment["LIVEGATE_TEST_POSTGRES_URL"] else {
            throw XCTSkip("LIVEGATE_TEST_POSTGRES_URL is not set; `make test` starts PostgreSQL and sets it")
        }
        let scratch = try await PostgresScratchDatabase.create(baseURL: url)
        self.scratch = scratch
        return try await StoreFactory.open(url: scratch.url, dataDir: "", logger: Logger(label: "test"))
    }

    override func tearDown() async throws {
        try await super.tearDown()
        await scratch?.drop()
    }

    func testBackendIsPostgreSQL() { XCTAssertEqual(store.backendName, "postgres") }
}

/// Configurable policies: the auth throttle (429) and private-network webhook URLs.
final class ControlAPIPolicyTests: ControlAPITestCase {
    override func makeStore() async throws -> SQLChannelStore {
        try await StoreFactory.open(url: "", dataDir: FileManager.default.temporaryDirectory.appendingPathComponent("lg-pol-\(UUID())").path,
                                    logger: Logger(label: "test"))
    }

    override func setUp() async throws {
        try await super.setUp()
        api = ControlAPI(store: store, configuration: ControlAPIConfiguration(version: "t", nodeId: "n", publicHost: "h", rtmpPort: 1935,
                                                                           httpPort: 8080, authFailuresPerMinute: 3, blockPrivateNetworks: true))
    }

    /// `/readyz/ingest` follows what the gateway says about taking publishes: 503 `draining`
    /// with `Retry-After` once it is stopping — whatever the store does.
    func testIngestReadinessSaysDrainingWhenTheGatewayStops() async throws {
        var configuration = ControlAPIConfiguration(version: "t", nodeId: "n", publicHost: "h", rtmpPort: 1935, httpPort: 8080)
        configuration.ingestUnavailable = { "draining: this node takes no new publishes" }
        api = ControlAPI(store: store, configuration: configuration)
        try await withClient(.live) { c in
            let draining = try await c.call(.get, "/readyz/ingest", auth: .some(nil))
            XCTAssertEqual(draining.status, 503)
            XCTAssertEqual(draining.ec, 5030)
            XCTAssertEqual(draining.data?["status"] as? String, "draining")
            XCTAssertEqual(draining.headers[.retryAfter], "5")
            let store = try await c.call(.get, "/readyz", auth: .some(nil))
            XCTAssertEqual(store.status, 200, "the store still answers: /readyz is about the store")
        }
    }

    /// The lockout integrators hit: failures from one address used to answer 429 to everything
    /// from it, the App Server's correct token included. Now failing attempts past the limit get
    /// 429 (per address and per token id), and a correct credential is always accepted.
    func testFailedLoginsAreThrottledButACorrectTokenIsNeverLockedOut() async throws {
        let store = self.store!
        try await store.saveToken(APIToken(id: "tok_other", secretHash: APITokens.hash("other-secret"), scopes: ["channels:read"], origin: .api, createdAt: Date()))
        try await withClient(.live) { c in
            let wrong = "Basic " + Data("tok_test:stale-secret".utf8).base64EncodedString()
            for _ in 0..<3 {
                let r = try await c.call(.get, "/v1/channels", auth: .some(wrong))
                XCTAssertEqual(r.status, 401)
            }
            let good = try await c.call(.get, "/v1/channels")
            XCTAssertEqual(good.status, 200, "a correct token is accepted between failures")
            let limited = try await c.call(.get, "/v1/channels", auth: .some(wrong))
            XCTAssertEqual(limited.status, 429)
            XCTAssertEqual(limited.ec, 4290)
            XCTAssertEqual(limited.headers[.retryAfter], "1", "the first block is 1 s")
            let again = try await c.call(.get, "/v1/channels", auth: .some(wrong))
            XCTAssertEqual(again.headers[.retryAfter], "2", "each failure while blocked doubles it")
            for _ in 0..<5 {
                let stillGood = try await c.call(.get, "/v1/channels")
                XCTAssertEqual(stillGood.status, 200, "the correct token from the same address is never locked out")
                let otherGood = try await c.call(.get, "/v1/channels", auth: .some(basic("tok_other", "other-secret")))
                XCTAssertEqual(otherGood.status, 200)
            }
            // Missing credentials guess nothing: a plain 401, whatever the address did.
            let none = try await c.call(.get, "/v1/channels", auth: .some(nil))
            XCTAssertEqual(none.status, 401)
            let metrics = try await c.call(.get, "/metrics", auth: .some(nil))
            XCTAssertTrue(metrics.raw.contains(#"livegate_api_auth_failures_total{answer="rejected"} 3"#), metrics.raw)
            XCTAssertTrue(metrics.raw.contains(#"livegate_api_auth_failures_total{answer="throttled"} 2"#), metrics.raw)
            XCTAssertTrue(metrics.raw.contains("livegate_api_auth_throttle_bursts_total 1"), metrics.raw)
            let health = try await c.call(.get, "/healthz", auth: .some(nil))
            XCTAssertEqual(health.status, 200)
        }
    }

    func testPrivateNetworkWebhookURLsAreRefusedWhenConfigured() async throws {
        try await withClient { c in
            for url in ["http://127.0.0.1/x", "http://localhost:8080/x", "http://10.1.2.3/x", "http://192.168.0.9/x", "http://172.20.0.1/x",
                        "http://169.254.169.254/latest", "http://[::1]/x", "http://[fd00::1]/x", "http://2130706433/x", "http://127.1/x",
                        "http://0x7f.1/x", "http://100.100.100.200/x", "http://[fe80::1]/x", "http://0/x"] {
                let r = try await c.call(.post, "/v1/webhooks", "{\"url\":\"\(url)\"}")
                XCTAssertEqual(r.status, 422, url)
                XCTAssertTrue(r.fields["url"]?.hasPrefix("must not point at a non-public address (") == true, "\(url): \(r.fields["url"] ?? "")")
            }
            let ok = try await c.call(.post, "/v1/webhooks", #"{"url":"https://hooks.example.com/livegate"}"#)
            XCTAssertEqual(ok.status, 201)
        }
    }
}
