import LiveGateModel
import ChannelStore
import ControlAPI
import Foundation
import HTTPTypes
import XCTest

/// Issue #19 item 9 through HTTP on both stores: tokens with a name and an expiry (expired → 401
/// saying so); lists in either order (videos newest first by default); a cursor works only for
/// the query that made it (it used to page another filter's list silently, often to `[]`).
extension ControlAPIConformanceTests {
    func testTokensHaveNamesAndExpiry() async throws {
        let store = self.store!, u = self.u
        try await withClient { c in
            let future = "2099-01-01T00:00:00Z"
            let made = try await c.call(.post, "/v1/tokens", #"{"scopes":["channels:read"],"name":"billing worker","expiresAt":"\#(future)"}"#)
            XCTAssertEqual(made.status, 201, made.raw)
            XCTAssertEqual(made.data?["name"] as? String, "billing worker")
            XCTAssertEqual((made.data?["expiresAt"] as? String)?.prefix(19), "2099-01-01T00:00:00")
            let id = try XCTUnwrap(made.data?["id"] as? String)
            let shown = try await c.call(.get, "/v1/tokens/\(id)")
            XCTAssertEqual(shown.data?["name"] as? String, "billing worker")
            let works = try await c.call(.get, "/v1/channels", auth: .some(basic(id, try XCTUnwrap(made.data?["secret"] as? String))))
            XCTAssertEqual(works.status, 200)
            for bad in [#"{"scopes":["videos"],"expiresAt":"2001-01-01T00:00:00Z"}"#, #"{"scopes":["videos"],"expiresAt":"tomorrow"}"#,
                        #"{"scopes":["videos"],"name":""}"#] {
                let r = try await c.call(.post, "/v1/tokens", bad)
                XCTAssertEqual(r.status, 422, bad)
            }
            // A token past its expiry: 401, and the answer says why.
            try await store.saveToken(APIToken(id: "tok_old\(u)", secretHash: APITokens.hash("old-secret"), scopes: ["channels:read"], origin: .api,
                                               createdAt: Date(timeIntervalSinceNow: -7200), expiresAt: Date(timeIntervalSinceNow: -60)))
            let expired = try await c.call(.get, "/v1/channels", auth: .some(basic("tok_old\(u)", "old-secret")))
            XCTAssertEqual(expired.status, 401)
            XCTAssertEqual(expired.ec, 4010)
            XCTAssertTrue((expired.body["msg"] as? String)?.contains("expired") == true, expired.raw)
            let wrong = try await c.call(.get, "/v1/channels", auth: .some(basic("tok_old\(u)", "guess")))
            XCTAssertFalse(wrong.raw.contains("expired"), "without the secret nothing is said about the token")
        }
    }

    func testListsTakeAnOrderAndCursorsAreBoundToTheirQuery() async throws {
        let u = u
        let store = self.store!
        try await withClient { c in
            var ids: [String] = []
            for i in 0..<3 {
                let made = try await c.createChannel("c\(i)", user: u)
                ids.append(try XCTUnwrap(made["id"] as? String))
            }
            let asc = try await c.call(.get, "/v1/channels?userId=\(u)")
            XCTAssertEqual(asc.items.compactMap { $0["id"] as? String }, ids, "oldest first by default")
            let desc = try await c.call(.get, "/v1/channels?userId=\(u)&order=desc")
            XCTAssertEqual(desc.items.compactMap { $0["id"] as? String }, ids.reversed())
            // Paging newest first, cursor by cursor.
            var seen: [String] = [], cursor: String?
            repeat {
                let page = try await c.call(.get, "/v1/channels?userId=\(u)&order=desc&limit=1" + (cursor.map { "&cursor=\($0)" } ?? ""))
                XCTAssertEqual(page.status, 200, page.raw)
                seen += page.items.compactMap { $0["id"] as? String }
                cursor = page.data?["nextCursor"] as? String
            } while cursor != nil && seen.count < 10
            XCTAssertEqual(seen, ids.reversed())

            let first = try await c.call(.get, "/v1/channels?userId=\(u)&limit=1")
            let next = try XCTUnwrap(first.data?["nextCursor"] as? String)
            for other in ["/v1/channels?userId=\(u)x&limit=1", "/v1/channels?userId=\(u)&order=desc&limit=1", "/v1/channels?limit=1", "/v1/videos?limit=1"] {
                let r = try await c.call(.get, other + "&cursor=\(next)")
                XCTAssertEqual(r.status, 400, "\(other): \(r.raw)")
                XCTAssertNotNil(r.fields["cursor"], r.raw)
            }
            let same = try await c.call(.get, "/v1/channels?limit=1&userId=\(u)&cursor=\(next)")
            XCTAssertEqual(same.items.compactMap { $0["id"] as? String }, [ids[1]], "the same filters in another order of parameters")
            let bigger = try await c.call(.get, "/v1/channels?userId=\(u)&limit=5&cursor=\(next)")
            XCTAssertEqual(bigger.items.count, 2, "the page size may change")

            // Videos: newest first unless asked.
            for i in 0..<2 {
                let video = Video(id: "vid_o\(i)\(u)", channelId: ids[0], userId: u, sessionId: nil, name: "v\(i).mp4", path: "/nonexistent", durationSec: 1,
                                  sizeBytes: 1, videoCodec: "h264", audioCodec: nil, width: 16, height: 16, createdAt: Date())
                _ = try await store.createVideo(video, event: .make(type: "video.ready", channelId: ids[0], userId: u, at: Date(), data: .null), now: Date())
            }
            let videos = try await c.call(.get, "/v1/videos?userId=\(u)")
            XCTAssertEqual(videos.items.compactMap { $0["id"] as? String }, ["vid_o1\(u)", "vid_o0\(u)"])
            let oldest = try await c.call(.get, "/v1/videos?userId=\(u)&order=asc")
            XCTAssertEqual(oldest.items.compactMap { $0["id"] as? String }, ["vid_o0\(u)", "vid_o1\(u)"])
            let badOrder = try await c.call(.get, "/v1/videos?order=newest")
            XCTAssertEqual(badOrder.status, 400)
            let events = try await c.call(.get, "/v1/events?order=desc")
            XCTAssertEqual(events.status, 400, "the event log keeps seq order")
        }
    }
}
