import LiveGateModel
import ChannelStore
import ControlAPI
import Foundation
import HTTPTypes
import XCTest

/// Issue #19 item 5, validators and preconditions through HTTP on both stores: ETag and
/// Last-Modified on channels, webhooks, videos and files; If-None-Match → 304; If-Match on
/// PUT/PATCH/DELETE → 412 when stale; If-Range per RFC 9110 (a stale validator gets the whole
/// file, 200, where it used to get 206).
extension ControlAPIConformanceTests {
    func testETagsAndPreconditionsOnChannelsWebhooksAndVideos() async throws {
        let u = self.u
        let store = self.store!
        let etag = HTTPField.Name("ETag")!, lastModified = HTTPField.Name("Last-Modified")!
        let ifMatch = HTTPField.Name("If-Match")!, ifNoneMatch = HTTPField.Name("If-None-Match")!, ifRange = HTTPField.Name("If-Range")!
        try await withClient { c in
            let created = try await c.createChannel("etag", user: u)
            let id = try XCTUnwrap(created["id"] as? String)
            let first = try await c.call(.get, "/v1/channels/\(id)")
            let tag = try XCTUnwrap(first.headers[etag], "a channel has an ETag")
            XCTAssertTrue(tag.hasPrefix("\"") && tag.hasSuffix("\""), "strong: \(tag)")
            let modified = try XCTUnwrap(first.headers[lastModified])
            XCTAssertTrue(modified.hasSuffix(" GMT"), modified)
            let again = try await c.call(.get, "/v1/channels/\(id)")
            XCTAssertEqual(again.headers[etag], tag, "the same state, the same tag")

            let notModified = try await c.call(.get, "/v1/channels/\(id)", headers: [ifNoneMatch: tag])
            XCTAssertEqual(notModified.status, 304)
            XCTAssertEqual(notModified.raw, "")
            XCTAssertEqual(notModified.headers[etag], tag)
            do { let r = try await c.call(.get, "/v1/channels/\(id)", headers: [ifNoneMatch: "\"other\", W/\(tag)"]); XCTAssertEqual(r.status, 304, "weak comparison, lists") }
            do { let r = try await c.call(.get, "/v1/channels/\(id)", headers: [ifNoneMatch: "\"other\""]); XCTAssertEqual(r.status, 200) }

            // Optimistic concurrency: a write with the current tag goes on and gets the new tag;
            // one with the old tag is refused and changes nothing.
            let patched = try await c.call(.patch, "/v1/channels/\(id)", #"{"name":"renamed"}"#, headers: [ifMatch: tag])
            XCTAssertEqual(patched.status, 200, patched.raw)
            let newTag = try XCTUnwrap(patched.headers[etag])
            XCTAssertNotEqual(newTag, tag)
            let stale = try await c.call(.put, "/v1/channels/\(id)", #"{"name":"lost update","userId":"\#(u)"}"#, headers: [ifMatch: tag])
            XCTAssertEqual(stale.status, 412, stale.raw)
            XCTAssertEqual(stale.ec, 4120)
            XCTAssertEqual(stale.data?["etag"] as? String, newTag, "the answer names the current tag")
            do { let r = try await c.call(.get, "/v1/channels/\(id)"); XCTAssertEqual(r.data?["name"] as? String, "renamed", "nothing was changed") }
            do { let r = try await c.call(.delete, "/v1/channels/\(id)", headers: [ifMatch: tag]); XCTAssertEqual(r.status, 412) }
            do { let r = try await c.call(.patch, "/v1/channels/\(id)", #"{"name":"x"}"#, headers: [ifMatch: "*"]); XCTAssertEqual(r.status, 200, "* matches any") }
            let currentAnswer = try await c.call(.get, "/v1/channels/\(id)")
            let current = try XCTUnwrap(currentAnswer.headers[etag])
            do { let r = try await c.call(.delete, "/v1/channels/\(id)", headers: [ifMatch: current]); XCTAssertEqual(r.status, 204) }
            do { let r = try await c.call(.delete, "/v1/channels/\(id)", headers: [ifMatch: "*"]); XCTAssertEqual(r.status, 412, "If-Match: * with nothing there") }

            // Webhooks.
            let hook = try await c.call(.post, "/v1/webhooks", #"{"url":"http://127.0.0.1:9/h"}"#)
            let hookID = try XCTUnwrap(hook.data?["id"] as? String)
            let hookTagAnswer = try await c.call(.get, "/v1/webhooks/\(hookID)")
            let hookTag = try XCTUnwrap(hookTagAnswer.headers[etag])
            do { let r = try await c.call(.patch, "/v1/webhooks/\(hookID)", #"{"enabled":false}"#, headers: [ifMatch: "\"nope\""]); XCTAssertEqual(r.status, 412) }
            do { let r = try await c.call(.patch, "/v1/webhooks/\(hookID)", #"{"enabled":false}"#, headers: [ifMatch: hookTag]); XCTAssertEqual(r.status, 200) }

            // Videos and their files.
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("lg-etag-\(UUID()).mp4")
            try Data((0..<1000).map { UInt8($0 % 251) }).write(to: file)
            let video = Video(id: "vid_e\(u)", channelId: "ch_\(u)", userId: u, sessionId: nil, name: "v.mp4", path: file.path, durationSec: 1,
                              sizeBytes: 1000, videoCodec: "h264", audioCodec: "aac", width: 16, height: 16, createdAt: Date(timeIntervalSince1970: 1_800_000_000))
            _ = try await store.createVideo(video, event: .make(type: "video.ready", channelId: video.channelId, userId: u, at: Date(), data: .null), now: Date())
            let got = try await c.call(.get, "/v1/videos/\(video.id)")
            XCTAssertNotNil(got.headers[etag])
            let fileAnswer = try await c.call(.get, "/v1/videos/\(video.id)/file")
            let fileTag = try XCTUnwrap(fileAnswer.headers[etag])
            XCTAssertEqual(fileAnswer.headers[lastModified], "Fri, 15 Jan 2027 08:00:00 GMT")
            do { let r = try await c.call(.get, "/v1/videos/\(video.id)/file", headers: [ifNoneMatch: fileTag]); XCTAssertEqual(r.status, 304) }
            let ranged = try await c.call(.get, "/v1/videos/\(video.id)/file", headers: [.range: "bytes=0-99", ifRange: fileTag])
            XCTAssertEqual(ranged.status, 206, "a current If-Range: the range")
            let byDate = try await c.call(.get, "/v1/videos/\(video.id)/file", headers: [.range: "bytes=0-99", ifRange: "Fri, 15 Jan 2027 08:00:00 GMT"])
            XCTAssertEqual(byDate.status, 206, "the exact Last-Modified date too")
            for staleValidator in ["\"vid_other-1000\"", "W/\(fileTag)", "Thu, 14 Jan 2027 08:00:00 GMT", "garbage"] {
                let whole = try await c.call(.get, "/v1/videos/\(video.id)/file", headers: [.range: "bytes=0-99", ifRange: staleValidator])
                XCTAssertEqual(whole.status, 200, "If-Range \(staleValidator): the whole file (RFC 9110 §13.1.5)")
                XCTAssertEqual(whole.headers[.contentLength], "1000")
            }
            let videoTag = try XCTUnwrap(got.headers[etag])
            do { let r = try await c.call(.delete, "/v1/videos/\(video.id)", headers: [ifMatch: "\"old\""]); XCTAssertEqual(r.status, 412) }
            do { let r = try await c.call(.delete, "/v1/videos/\(video.id)", headers: [ifMatch: videoTag]); XCTAssertEqual(r.status, 204) }
        }
    }
}
