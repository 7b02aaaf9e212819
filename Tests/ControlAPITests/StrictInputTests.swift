import LiveGateModel
import ChannelStore
import ControlAPI
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import XCTest

/// Issue #13 item 2, through HTTP on both stores: what an integrator sends is read exactly as
/// meant or refused with the field or parameter named.
extension ControlAPIConformanceTests {
    func testUnicodeUserIdInThePathIsPercentDecodedEndToEnd() async throws {
        try await withClient { c in
            let user = "người\(UUID().uuidString.prefix(4))"
            let encoded = try XCTUnwrap(user.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
            XCTAssertNotEqual(encoded, user)
            _ = try await c.createChannel("một", user: user)
            let usage = try await c.call(.get, "/v1/users/\(encoded)/usage")
            XCTAssertEqual(usage.status, 200)
            XCTAssertEqual(usage.data?["userId"] as? String, user)
            XCTAssertEqual((usage.data?["channels"] as? [String: Any])?["used"] as? Int, 1, "the decoded user's channel is counted")
            let put = try await c.call(.put, "/v1/users/\(encoded)/config", #"{"maxChannels":1}"#)
            XCTAssertEqual(put.status, 200)
            let second = try await c.call(.post, "/v1/channels", "{\"name\":\"hai\",\"userId\":\"\(user)\"}")
            XCTAssertEqual(second.status, 403, "the limit stored under the decoded id applies")
            XCTAssertEqual(second.ec, 4031)
            let config = try await c.call(.get, "/v1/users/\(encoded)/config")
            XCTAssertEqual(config.data?["maxChannels"] as? Int, 1)
            let bad = try await c.call(.get, "/v1/users/a%00b/usage")
            XCTAssertEqual(bad.status, 422, "a control character is refused in a user id, as in a body")
        }
    }

    func testUnknownQueryParametersAreRefusedByName() async throws {
        let u = self.u
        try await withClient { c in
            _ = try await c.createChannel("mine", user: u)
            _ = try await c.createChannel("theirs", user: u + "x")
            let emptyName = try await c.call(.get, "/v1/channels?userId=\(u)&=5")
            XCTAssertEqual(emptyName.status, 400, "a parameter with an empty name is unknown too")
            let misspelt = try await c.call(.get, "/v1/channels?userid=\(u)")
            XCTAssertEqual(misspelt.status, 400, "a misspelt filter must not return every user's channels")
            XCTAssertEqual(misspelt.ec, 4000)
            XCTAssertTrue(misspelt.body["msg"].map { "\($0)" }?.contains("userid") == true, misspelt.raw)
            XCTAssertEqual((misspelt.data?["unknownParameters"] as? [String]), ["userid"])
            let right = try await c.call(.get, "/v1/channels?userId=\(u)")
            XCTAssertEqual(right.items.map { $0["name"] as? String }, ["mine"])
            for path in ["/v1/videos?channelIdx=1", "/v1/webhooks?status=live", "/v1/system?x=1", "/v1/events?afterr=3",
                         "/v1/channels?limit=5&userId=\(u)&sort=name"] {
                let r = try await c.call(.get, path)
                XCTAssertEqual(r.status, 400, path)
                XCTAssertEqual(r.ec, 4000, path)
            }
            let control = try await c.call(.get, "/v1/channels?userId=a%00b")
            XCTAssertEqual(control.status, 400, "control characters in a filter value")
        }
    }

    func testVideoAndDeliveryFiltersExist() async throws {
        let store = self.store!
        let u = self.u
        for (i, channel) in ["ch_a", "ch_a", "ch_b"].enumerated() {
            let video = Video(id: "vid_\(u)_\(i)", channelId: channel + u, userId: channel == "ch_a" ? u : u + "b", sessionId: nil, name: "v\(i).mp4",
                              path: "/tmp/\(u)-\(i).mp4", durationSec: 1, sizeBytes: 10, videoCodec: "h264", audioCodec: nil, width: 2, height: 2,
                              createdAt: Date())
            _ = try await store.createVideo(video, event: .make(type: "video.ready", channelId: video.channelId, userId: video.userId, at: Date(),
                                                                data: .object(["video": video.json])), now: Date())
        }
        try await withClient { c in
            let a = try await c.call(.get, "/v1/videos?channelId=ch_a\(u)")
            XCTAssertEqual(a.status, 200)
            XCTAssertEqual(Set(a.items.compactMap { $0["id"] as? String }), ["vid_\(u)_0", "vid_\(u)_1"])
            let b = try await c.call(.get, "/v1/videos?userId=\(u)b")
            XCTAssertEqual(b.items.compactMap { $0["id"] as? String }, ["vid_\(u)_2"])
            let none = try await c.call(.get, "/v1/videos?channelId=ch_a\(u)&to=2000-01-01T00:00:00Z")
            XCTAssertEqual(none.items.count, 0)
            let hook = try await c.call(.post, "/v1/webhooks", #"{"url":"http://127.0.0.1:9/h"}"#)
            let id = try XCTUnwrap(hook.data?["id"] as? String)
            _ = try await store.appendEvent(.make(type: "channel.live", channelId: "ch_a\(u)", userId: u, at: Date(), data: .object([:])), now: Date())
            let pending = try await c.call(.get, "/v1/webhooks/\(id)/deliveries?state=pending")
            XCTAssertEqual(pending.items.count, 1)
            XCTAssertEqual(pending.items.first?["eventType"] as? String, "channel.live")
            let delivered = try await c.call(.get, "/v1/webhooks/\(id)/deliveries?state=delivered")
            XCTAssertEqual(delivered.status, 200)
            XCTAssertEqual(delivered.items.count, 0)
            let bogus = try await c.call(.get, "/v1/webhooks/\(id)/deliveries?state=exploded")
            XCTAssertEqual(bogus.status, 400)
        }
    }

    func testControlCharactersAreRefusedWithTheFieldNamed() async throws {
        let u = self.u
        try await withClient { c in
            for (body, field) in [(#"{"name":"a\u0000b","userId":"\#(u)"}"#, "name"), (#"{"name":"ok","userId":"a\u0000zz"}"#, "userId"),
                                  (#"{"name":"ok","userId":"\#(u)","tags":["x\u0001"]}"#, "tags"),
                                  (#"{"name":"ok","userId":"\#(u)","description":"line\u0000"}"#, "description"),
                                  (#"{"name":"a\u007fb","userId":"\#(u)"}"#, "name"), (#"{"name":"a\u0085b","userId":"\#(u)"}"#, "name")] {
                let r = try await c.call(.post, "/v1/channels", body)
                XCTAssertEqual(r.status, 422, body)
                XCTAssertEqual(r.fields[field], "must not contain control characters", body)
            }
            let text = try await c.call(.post, "/v1/channels", #"{"name":"ok","userId":"\#(u)","description":"two\nlines\tand a tab"}"#)
            XCTAssertEqual(text.status, 201, "a description may have line breaks and tabs")
            XCTAssertEqual(text.data?["description"] as? String, "two\nlines\tand a tab")
            let hook = try await c.call(.post, "/v1/webhooks", #"{"url":"http://h.example/x\u0000y"}"#)
            XCTAssertEqual(hook.status, 422)
            XCTAssertEqual(hook.fields["url"], "must not contain control characters")
            let listed = try await c.call(.get, "/v1/channels?userId=\(u)")
            XCTAssertEqual(listed.items.count, 1, "nothing of the refused ones was stored")
        }
    }

    func testPatchIsAJSONMergePatch() async throws {
        let u = self.u
        try await withClient { c in
            let ch = try await c.createChannel("merge", user: u, extra: #","metadata":{"a":1,"b":{"c":2}},"tags":["x"],"description":"d","reconnectWindowSec":30"#)
            let id = try XCTUnwrap(ch["id"] as? String)
            let merged = try await c.call(.patch, "/v1/channels/\(id)", #"{"metadata":{"a":null,"b":{"d":3},"e":[1]}}"#)
            XCTAssertEqual(merged.status, 200, merged.raw)
            let meta = try XCTUnwrap(merged.data?["metadata"] as? NSDictionary)
            XCTAssertEqual(meta, ["b": ["c": 2, "d": 3], "e": [1]] as NSDictionary, "objects merge, null removes a member")
            let cleared = try await c.call(.patch, "/v1/channels/\(id)", #"{"description":null,"tags":null,"reconnectWindowSec":null,"metadata":null}"#)
            XCTAssertEqual(cleared.status, 200, cleared.raw)
            XCTAssertEqual(cleared.data?["description"] as? String, "")
            XCTAssertEqual(cleared.data?["tags"] as? [String], [])
            XCTAssertEqual(cleared.data?["reconnectWindowSec"] as? Int, 10, "back to the default")
            XCTAssertEqual((cleared.data?["metadata"] as? [String: Any])?.count, 0)
            XCTAssertEqual(cleared.data?["name"] as? String, "merge", "what the patch does not name is kept")
            let required = try await c.call(.patch, "/v1/channels/\(id)", #"{"name":null}"#)
            XCTAssertEqual(required.status, 422)
            XCTAssertEqual(required.fields["name"], "must not be null")
            let huge = try await c.call(.patch, "/v1/channels/\(id)", #"{"reconnectWindowSec":1000000000000}"#)
            XCTAssertEqual(huge.fields["reconnectWindowSec"], "must be between 0 and 300", "a too-large integer is out of range, not 'not an integer'")
            let half = try await c.call(.patch, "/v1/channels/\(id)", #"{"reconnectWindowSec":1.5}"#)
            XCTAssertEqual(half.fields["reconnectWindowSec"], "must be a whole number")
            let hook = try await c.call(.post, "/v1/webhooks", #"{"url":"http://127.0.0.1:9/h","events":["channel.live"],"userIds":["u1"]}"#)
            let hid = try XCTUnwrap(hook.data?["id"] as? String)
            let reset = try await c.call(.patch, "/v1/webhooks/\(hid)", #"{"events":null,"userIds":null}"#)
            XCTAssertEqual(reset.data?["events"] as? [String], [], "null: every event again")
            XCTAssertEqual(reset.data?["userIds"] as? [String], [])
        }
    }

    func testEveryGetAnswersHead() async throws {
        let u = self.u
        try await withClient { c in
            let ch = try await c.createChannel("head", user: u)
            let id = try XCTUnwrap(ch["id"] as? String)
            for path in ["/v1/channels/\(id)", "/v1/channels", "/v1/system", "/v1/openapi.json", "/healthz", "/v1/events"] {
                let get = try await c.call(.get, path)
                let head = try await c.call(.head, path)
                XCTAssertEqual(head.status, get.status, path)
                XCTAssertEqual(head.raw, "", "no body: \(path)")
                XCTAssertEqual(head.headers[.contentType], get.headers[.contentType], path)
            }
            let missing = try await c.call(.head, "/v1/channels/ch_nope")
            XCTAssertEqual(missing.status, 404)
            let unauthenticated = try await c.call(.head, "/v1/channels", auth: .some(nil))
            XCTAssertEqual(unauthenticated.status, 401)
            let notAllowed = try await c.call(.put, "/v1/channels")
            XCTAssertEqual(notAllowed.status, 405)
            XCTAssertTrue(notAllowed.headers[.allow]?.contains("HEAD") == true, notAllowed.headers[.allow] ?? "")
            let trace = try await c.call(.trace, "/v1/channels")
            XCTAssertEqual(trace.status, 405, "TRACE on a known path is a method not allowed, not a missing route")
            XCTAssertEqual(trace.ec, 4050)
        }
    }

    func testTheSixthForwardIsAFixedCapNotAUserLimit() async throws {
        let u = self.u
        try await withClient { c in
            let ch = try await c.createChannel("fwd", user: u)
            let id = try XCTUnwrap(ch["id"] as? String)
            for i in 0..<5 {
                let r = try await c.call(.post, "/v1/channels/\(id)/forwards", "{\"url\":\"rtmp://127.0.0.1/live/k\(i)\"}")
                XCTAssertEqual(r.status, 201)
            }
            let sixth = try await c.call(.post, "/v1/channels/\(id)/forwards", #"{"url":"rtmp://127.0.0.1/live/k6"}"#)
            XCTAssertEqual(sixth.status, 403)
            XCTAssertEqual(sixth.ec, 4031)
            XCTAssertEqual(sixth.body["msg"] as? String, "a channel has at most 5 forwards")
            XCTAssertEqual(sixth.data?["max"] as? Int, 5)
        }
    }
}
