import LiveGateModel
import ChannelStore
@testable import ControlAPI
import Foundation
import HTTPTypes
import XCTest

/// Forwards and videos (docs/contract.md §4 rows), on both stores through the conformance subclasses.
extension ControlAPIConformanceTests {
    func testForwardsCRUDValidationAndLimit() async throws {
        let u = self.u
        try await withClient { c in
            let ch = try await c.createChannel("fwd", user: u)
            let id = ch["id"] as! String
            let created = try await c.call(.post, "/v1/channels/\(id)/forwards", #"{"url":"rtmp://a.example.com/live/key1"}"#)
            XCTAssertEqual(created.status, 201, created.raw)
            let fid = try XCTUnwrap(created.data?["id"] as? String)
            XCTAssertTrue(fid.hasPrefix("fwd_"))
            XCTAssertEqual(created.data?["enabled"] as? Bool, true)
            XCTAssertEqual(created.data?["channelId"] as? String, id)
            XCTAssertTrue(created.data?["status"] is NSNull, "not live: no status")

            for (body, field) in [(#"{"url":"http://a.example.com/live/k"}"#, "url"), (#"{"url":"rtmp://a.example.com"}"#, "url"),
                                  (#"{"url":"rtmp://user:pw@a.example.com/live/k"}"#, "url"), (#"{}"#, "url"),
                                  (#"{"url":"rtmp://a.example.com/live/k","enabled":"yes"}"#, "enabled"),
                                  (#"{"url":"rtmp://a.example.com/live/k","id":"mine"}"#, "id")] {
                let bad = try await c.call(.post, "/v1/channels/\(id)/forwards", body)
                XCTAssertEqual(bad.status, 422, body)
                XCTAssertEqual(bad.ec, 4220)
                XCTAssertNotNil(bad.fields[field], "\(body): \(bad.raw)")
            }
            let malformed = try await c.call(.post, "/v1/channels/\(id)/forwards", #"{"url":"#)
            XCTAssertEqual(malformed.status, 400)

            let patched = try await c.call(.patch, "/v1/channels/\(id)/forwards/\(fid)", #"{"enabled":false,"url":"rtmps://b.example.com:443/app/k2"}"#)
            XCTAssertEqual(patched.status, 200, patched.raw)
            XCTAssertEqual(patched.data?["enabled"] as? Bool, false)
            XCTAssertEqual(patched.data?["url"] as? String, "rtmps://b.example.com:443/app/k2")
            let got = try await c.call(.get, "/v1/channels/\(id)/forwards/\(fid)")
            XCTAssertEqual(got.data?["url"] as? String, "rtmps://b.example.com:443/app/k2")

            for i in 2...5 {
                let r = try await c.call(.post, "/v1/channels/\(id)/forwards", #"{"url":"rtmp://a.example.com/live/k\#(i)"}"#)
                XCTAssertEqual(r.status, 201)
            }
            let sixth = try await c.call(.post, "/v1/channels/\(id)/forwards", #"{"url":"rtmp://a.example.com/live/k6"}"#)
            XCTAssertEqual(sixth.status, 403, "at most 5 per channel")
            XCTAssertEqual(sixth.ec, 4031)
            let list = try await c.call(.get, "/v1/channels/\(id)/forwards")
            XCTAssertEqual(list.items.count, 5)
            XCTAssertEqual(list.items.first?["id"] as? String, fid, "in creation order")

            do {
                let status = try await c.call(.get, "/v1/channels/ch_missing/forwards").status
                XCTAssertEqual(status, 404)
            }
            do {
                let status = try await c.call(.get, "/v1/channels/\(id)/forwards/fwd_missing").status
                XCTAssertEqual(status, 404)
            }
            do {
                let status = try await c.call(.patch, "/v1/channels/\(id)/forwards/fwd_missing", #"{"enabled":true}"#).status
                XCTAssertEqual(status, 404)
            }
            do {
                let status = try await c.call(.put, "/v1/channels/\(id)/forwards/\(fid)", "{}").status
                XCTAssertEqual(status, 405)
            }
            let deleted = try await c.call(.delete, "/v1/channels/\(id)/forwards/\(fid)")
            XCTAssertEqual(deleted.status, 204)
            do {
                let status = try await c.call(.delete, "/v1/channels/\(id)/forwards/\(fid)").status
                XCTAssertEqual(status, 404)
            }
            let other = try await c.createChannel("other", user: u)
            do {
                let status = try await c.call(.get, "/v1/channels/\(other["id"] as! String)/forwards/\(list.items[1]["id"] as! String)").status
                XCTAssertEqual(status, 404, "a forward belongs to its channel")
            }
        }
    }

    /// Issue #21 item 2: a recording whose node is gone for good says so (`fileAvailable:
    /// false`, a download 404 that explains) instead of a bare 404; one whose node merely
    /// stopped a moment ago does not; the operator can declare a node gone at once.
    func testARecordingSaysWhenItsFilesNodeIsGoneForGood() async throws {
        let u = self.u, store = self.store!
        let now = Date()
        func video(_ id: String, node: String?) async throws {
            let v = Video(id: id, channelId: "ch_\(u)", userId: u, sessionId: nil, name: "\(id).mp4", path: "/nowhere/\(id).mp4", durationSec: 1,
                          sizeBytes: 10, videoCodec: "h264", audioCodec: nil, width: 2, height: 2, createdAt: now, nodeId: node)
            _ = try await store.createVideo(v, event: .make(type: "video.ready", channelId: v.channelId, userId: u, at: now, data: .null), now: now)
        }
        try await video("vid_gone_\(u)", node: "never-listed-\(u)")
        try await video("vid_left_\(u)", node: "left-\(u)")
        try await video("vid_old_\(u)", node: nil)
        // A node that stopped cleanly just now: its files count as available (it may come back).
        try await store.registerNode(NodeRecord(id: "left-\(u)", addresses: [], version: "t", startedAt: now, heartbeatAt: now.addingTimeInterval(-60)))
        try await store.removeNode(id: "left-\(u)")
        try await withClient { c in
            func available(_ id: String) async throws -> Bool? { try await c.call(.get, "/v1/videos/\(id)").data?["fileAvailable"] as? Bool }
            let gone = try await available("vid_gone_\(u)"), left = try await available("vid_left_\(u)"), old = try await available("vid_old_\(u)")
            XCTAssertEqual(gone, false, "a node nobody knows")
            XCTAssertEqual(left, true, "a node that stopped a minute ago")
            XCTAssertEqual(old, true, "a recording from before nodes were recorded")
            let node = try await c.call(.get, "/v1/videos/vid_left_\(u)").data?["nodeId"] as? String
            XCTAssertEqual(node, "left-\(u)")
            let download = try await c.call(.get, "/v1/videos/vid_gone_\(u)/file")
            XCTAssertEqual(download.status, 404)
            XCTAssertEqual(download.body["ec"] as? Int, 4041, download.raw)
            // The operator removes the stopped node for good.
            let removed = try await c.call(.delete, "/v1/system/nodes/left-\(u)")
            XCTAssertEqual(removed.status, 204)
            let after = try await available("vid_left_\(u)")
            XCTAssertEqual(after, false)
            let unknown = try await c.call(.delete, "/v1/system/nodes/nobody-\(u)")
            XCTAssertEqual(unknown.status, 404)
            // A running node cannot be removed, nor the node answering.
            try await store.registerNode(NodeRecord(id: "alive-\(u)", addresses: [], version: "t", startedAt: Date(), heartbeatAt: Date()))
            let alive = try await c.call(.delete, "/v1/system/nodes/alive-\(u)")
            XCTAssertEqual(alive.status, 409)
        }
    }

    func testVideosListReadDownloadWithRangeAndDelete() async throws {
        let u = self.u
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("lg-video-\(UUID()).mp4")
        let bytes = Data((0..<1000).map { UInt8($0 % 251) })
        try bytes.write(to: file)
        let video = Video(id: "vid_\(u)", channelId: "ch_\(u)", userId: u, sessionId: "ses_\(u)", name: "ses_\(u).mp4", path: file.path,
                          durationSec: 6.02, sizeBytes: 1000, videoCodec: "h264", audioCodec: "aac", width: 320, height: 240, createdAt: Date())
        _ = try await store.createVideo(video, event: .make(type: "video.ready", channelId: video.channelId, userId: u, at: Date(),
                                                            data: .object(["video": video.json])), now: Date())
        try await withClient { c in
            let list = try await c.call(.get, "/v1/videos?userId=\(u)")
            XCTAssertEqual(list.items.count, 1)
            XCTAssertNil(list.items.first?["path"], "the server path is not exposed")
            let got = try await c.call(.get, "/v1/videos/vid_\(u)")
            XCTAssertEqual(got.data?["durationSec"] as? Double, 6.02)
            XCTAssertEqual(got.data?["sessionId"] as? String, "ses_\(u)")
            let search = try await c.call(.get, "/v1/search?type=video&userId=\(u)")
            XCTAssertEqual(search.items.count, 1)

            let whole = try await c.call(.get, "/v1/videos/vid_\(u)/file")
            XCTAssertEqual(whole.status, 200)
            XCTAssertEqual(whole.headers[.contentType], "video/mp4")
            XCTAssertEqual(whole.headers[.acceptRanges], "bytes")
            XCTAssertEqual(whole.headers[.contentLength], "1000")
            let part = try await c.call(.get, "/v1/videos/vid_\(u)/file", headers: [.range: "bytes=10-19"])
            XCTAssertEqual(part.status, 206)
            XCTAssertEqual(part.headers[.contentRange], "bytes 10-19/1000")
            XCTAssertEqual(Array(part.raw.utf8), Array(bytes[10..<20]))
            let tail = try await c.call(.get, "/v1/videos/vid_\(u)/file", headers: [.range: "bytes=-5"])
            XCTAssertEqual(tail.headers[.contentRange], "bytes 995-999/1000")
            let open = try await c.call(.get, "/v1/videos/vid_\(u)/file", headers: [.range: "bytes=990-"])
            XCTAssertEqual(open.headers[.contentRange], "bytes 990-999/1000")
            let beyond = try await c.call(.get, "/v1/videos/vid_\(u)/file", headers: [.range: "bytes=1000-"])
            XCTAssertEqual(beyond.status, 416)
            XCTAssertEqual(beyond.headers[.contentRange], "bytes */1000")
            let noAuth = try await c.call(.get, "/v1/videos/vid_\(u)/file", auth: .some(nil))
            XCTAssertEqual(noAuth.status, 401)

            do {
                let status = try await c.call(.delete, "/v1/videos/vid_\(u)").status
                XCTAssertEqual(status, 204)
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: file.path), "the file goes with the record")
            do {
                let status = try await c.call(.get, "/v1/videos/vid_\(u)").status
                XCTAssertEqual(status, 404)
            }
            do {
                let status = try await c.call(.get, "/v1/videos/vid_\(u)/file").status
                XCTAssertEqual(status, 404)
            }
            do {
                let status = try await c.call(.delete, "/v1/videos/vid_\(u)").status
                XCTAssertEqual(status, 404)
            }
        }
    }
}

final class ByteRangeTests: XCTestCase {
    func testSingleRangeForms() {
        typealias R = ControlAPI.ByteRange
        XCTAssertEqual(ControlAPI.byteRange(nil, size: 100), R.none)
        XCTAssertEqual(ControlAPI.byteRange("bytes=0-9", size: 100), R.range(0...9))
        XCTAssertEqual(ControlAPI.byteRange("bytes=90-200", size: 100), R.range(90...99), "clamped to the file")
        XCTAssertEqual(ControlAPI.byteRange("bytes=-10", size: 100), R.range(90...99))
        XCTAssertEqual(ControlAPI.byteRange("bytes=-500", size: 100), R.range(0...99))
        XCTAssertEqual(ControlAPI.byteRange("bytes=100-", size: 100), R.unsatisfiable)
        XCTAssertEqual(ControlAPI.byteRange("bytes=-0", size: 100), R.unsatisfiable)
        XCTAssertEqual(ControlAPI.byteRange("bytes=5-2", size: 100), R.none, "invalid: ignored")
        XCTAssertEqual(ControlAPI.byteRange("bytes=0-1,5-6", size: 100), R.none, "several ranges: whole file")
        XCTAssertEqual(ControlAPI.byteRange("items=0-1", size: 100), R.none)
        XCTAssertEqual(ControlAPI.byteRange("bytes=a-b", size: 100), R.none)
    }
}
