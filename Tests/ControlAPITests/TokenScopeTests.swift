import LiveGateModel
import ChannelStore
import ControlAPI
import Foundation
import HTTPTypes
import XCTest

/// Basic credentials for a token.
func basic(_ id: String, _ secret: String) -> String { "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString() }

/// Issue #13 item 3 through HTTP, both stores: tokens with scopes, bound to a user or not.
extension ControlAPIConformanceTests {

    func testScopedTokensAreCreatedShownOnceEnforcedAndRevoked() async throws {
        let u = self.u
        try await withClient { c in
            let created = try await c.call(.post, "/v1/tokens", #"{"scopes":["channels:read"]}"#)
            XCTAssertEqual(created.status, 201, created.raw)
            let id = try XCTUnwrap(created.data?["id"] as? String)
            let secret = try XCTUnwrap(created.data?["secret"] as? String)
            XCTAssertTrue(id.hasPrefix("tok_"))
            XCTAssertGreaterThanOrEqual(secret.count, 32)
            XCTAssertEqual(created.data?["scopes"] as? [String], ["channels:read"])
            XCTAssertTrue(created.data?["userId"] is NSNull)
            XCTAssertTrue(created.data?["lastUsedAt"] is NSNull)
            let listed = try await c.call(.get, "/v1/tokens?limit=100")
            XCTAssertTrue(listed.items.contains { $0["id"] as? String == id })
            XCTAssertFalse(listed.raw.contains(secret), "the secret is shown once")
            XCTAssertFalse(listed.items.contains { $0["secret"] != nil || $0["secretHash"] != nil })

            let reader = basic(id, secret)
            let read = try await c.call(.get, "/v1/channels", auth: .some(reader))
            XCTAssertEqual(read.status, 200)
            for (method, path, body, scope) in [(HTTPRequest.Method.post, "/v1/channels", #"{"name":"n","userId":"\#(u)"}"#, "channels:write"),
                                                (.get, "/v1/webhooks", nil, "webhooks"), (.get, "/v1/videos", nil, "videos"),
                                                (.get, "/v1/system/stats", nil, "stats:read"), (.get, "/v1/tokens", nil, "admin"),
                                                (.post, "/v1/tokens", #"{"scopes":["admin"]}"#, "admin")] {
                let r = try await c.call(method, path, body, auth: .some(reader))
                XCTAssertEqual(r.status, 403, "\(method) \(path)")
                XCTAssertEqual(r.ec, 4030)
                XCTAssertEqual(r.data?["scope"] as? String, scope)
            }
            let system = try await c.call(.get, "/v1/system", auth: .some(reader))
            XCTAssertEqual(system.status, 200, "any token reads /v1/system")
            let wrongSecret = try await c.call(.get, "/v1/channels", auth: .some(basic(id, secret + "x")))
            XCTAssertEqual(wrongSecret.status, 401)

            let shown = try await c.call(.get, "/v1/tokens/\(id)")
            XCTAssertNotNil(shown.data?["lastUsedAt"] as? String, "lastUsedAt after use")
            for bad in [#"{}"#, #"{"scopes":[]}"#, #"{"scopes":["root"]}"#, #"{"scopes":["admin"],"userId":"u1"}"#,
                        #"{"scopes":["webhooks"],"userId":"u1"}"#, #"{"scopes":["videos"],"secret":"mine"}"#] {
                let r = try await c.call(.post, "/v1/tokens", bad)
                XCTAssertEqual(r.status, 422, bad)
            }
            let revoked = try await c.call(.delete, "/v1/tokens/\(id)")
            XCTAssertEqual(revoked.status, 204)
            let after = try await c.call(.get, "/v1/channels", auth: .some(reader))
            XCTAssertEqual(after.status, 401, "revoked: at once")
            let missing = try await c.call(.delete, "/v1/tokens/\(id)")
            XCTAssertEqual(missing.status, 404)
        }
    }

    func testATokenBoundToAUserSeesOnlyThatUsersResources() async throws {
        let u = self.u, other = self.u + "other"
        let store = self.store!
        try await withClient { c in
            let mine = try await c.createChannel("mine", user: u)
            let theirs = try await c.createChannel("theirs", user: other)
            let mineID = try XCTUnwrap(mine["id"] as? String), theirsID = try XCTUnwrap(theirs["id"] as? String)
            let created = try await c.call(.post, "/v1/tokens", #"{"scopes":["channels:write","videos"],"userId":"\#(u)"}"#)
            XCTAssertEqual(created.status, 201, created.raw)
            let token = basic(try XCTUnwrap(created.data?["id"] as? String), try XCTUnwrap(created.data?["secret"] as? String))

            let list = try await c.call(.get, "/v1/channels", auth: .some(token))
            XCTAssertEqual(list.items.map { $0["id"] as? String }, [mineID])
            let asked = try await c.call(.get, "/v1/channels?userId=\(other)", auth: .some(token))
            XCTAssertEqual(asked.items.count, 0, "another user's filter finds nothing")
            for (method, path, body) in [(HTTPRequest.Method.get, "/v1/channels/\(theirsID)", nil as String?),
                                         (.patch, "/v1/channels/\(theirsID)", #"{"name":"x"}"#), (.delete, "/v1/channels/\(theirsID)", nil),
                                         (.post, "/v1/channels/\(theirsID)/disable", nil), (.get, "/v1/channels/\(theirsID)/sessions", nil),
                                         (.get, "/v1/users/\(other)/usage", nil), (.get, "/v1/users/\(other)/config", nil)] {
                let r = try await c.call(method, path, body, auth: .some(token))
                XCTAssertEqual(r.status, 404, "\(method) \(path)")
            }
            // Limits are the operator's: a bound token changes no user's, its own included.
            for user in [other, u] {
                let r = try await c.call(.put, "/v1/users/\(user)/config", #"{"maxChannels":1}"#, auth: .some(token))
                XCTAssertEqual(r.status, 403, "PUT /v1/users/\(user)/config")
            }
            let own = try await c.call(.get, "/v1/channels/\(mineID)", auth: .some(token))
            XCTAssertEqual(own.status, 200)
            let usage = try await c.call(.get, "/v1/users/\(u)/usage", auth: .some(token))
            XCTAssertEqual(usage.status, 200)
            let made = try await c.call(.post, "/v1/channels", #"{"name":"new"}"#, auth: .some(token))
            XCTAssertEqual(made.status, 201, made.raw)
            XCTAssertEqual(made.data?["userId"] as? String, u, "created for the token's user")
            let foreign = try await c.call(.post, "/v1/channels", #"{"name":"new","userId":"\#(other)"}"#, auth: .some(token))
            XCTAssertEqual(foreign.status, 422)
            XCTAssertEqual(foreign.fields["userId"], "must be this token's user")
            let moved = try await c.call(.patch, "/v1/channels/\(mineID)", #"{"userId":"\#(other)"}"#, auth: .some(token))
            XCTAssertEqual(moved.status, 422)
            let stillTheirs = try await store.channel(id: theirsID)
            XCTAssertEqual(stillTheirs?.name, "theirs", "nothing of the other user's changed")

            _ = try await store.appendEvent(.make(type: "channel.live", channelId: mineID, userId: u, at: Date(), data: .object([:])), now: Date())
            _ = try await store.appendEvent(.make(type: "channel.live", channelId: theirsID, userId: other, at: Date(), data: .object([:])), now: Date())
            let events = try await c.call(.get, "/v1/events", auth: .some(token))
            XCTAssertEqual(events.status, 200)
            XCTAssertEqual(events.items.count, 1, "only its user's events")
            let videos = try await c.call(.get, "/v1/videos?userId=\(other)", auth: .some(token))
            XCTAssertEqual(videos.items.count, 0)
            let webhooks = try await c.call(.get, "/v1/webhooks", auth: .some(token))
            XCTAssertEqual(webhooks.status, 403)
        }
    }
}
