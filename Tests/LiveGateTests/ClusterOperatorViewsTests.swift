import Foundation
import TestSupport
import XCTest

/// Issue #23 across nodes: what an operator looks at is answered by any node. Two nodes, each
/// in its own mount namespace with its data directory at the same path (as separate machines),
/// a publisher on node a; node b answers the channel's health, its stats history, its picture,
/// the event stream and, once the recording is finished, its poster — each made by node a and
/// fetched over the signed node-to-node endpoints.
final class ClusterOperatorViewsTests: XCTestCase {
    func testHealthHistoryPictureEventsAndPosterFromTheOtherNode() async throws {
        let cluster = try await startCluster("views", privateData: true)
        defer { for node in cluster.nodes where node.process.isRunning { kill(node.process.processIdentifier, SIGKILL) } }
        let clip = try await MediaTools.makeClip(seconds: 4, size: "480x270", fps: 25, in: cluster.dir)
        let (id, key) = try await cluster.createChannel(#"{"name":"watched","userId":"ops","record":true,"reconnectWindowSec":0}"#)
        let publisher = try startPublisher(clip, url: cluster.nodes[0].rtmp + "/" + key, seconds: 30)
        defer { if publisher.isRunning { kill(publisher.processIdentifier, SIGKILL) } }
        let live = await cluster.receiver.wait(timeout: 30) { $0.contains { $0.type == "channel.live" && $0.channelId == id } }
        XCTAssertTrue(live)

        // Health through node b: the holder's snapshot.
        var stats: [String: Any] = [:]
        let healthy = try await eventually(20, every: .milliseconds(500)) {
            stats = (try await cluster.curl(1, ["/v1/channels/\(id)/stats"])["data"] as? [String: Any]) ?? [:]
            return (stats["health"] as? [String: Any])?["state"] as? String == "healthy"
        }
        XCTAssertTrue(healthy, "\(stats)")

        // The picture, made by node a, through node b.
        let picture = cluster.dir.appendingPathComponent("picture.jpg")
        let pictured = try await eventually(20, every: .milliseconds(400)) {
            let r = try await ProcessRunner.run("curl", ["-s", "-f", "-o", picture.path, "-u", "\(ClusterHarness.token):\(ClusterHarness.secret)",
                                                         cluster.nodes[1].api + "/v1/channels/\(id)/thumbnail.jpg?width=240"], timeout: 10)
            return r.exitCode == 0
        }
        XCTAssertTrue(pictured)
        let shot = try await MediaTools.probe(picture).first
        XCTAssertEqual(shot?.codecName, "mjpeg")
        XCTAssertEqual(shot?.width, 240)
        XCTAssertEqual(shot?.height, 136)

        // History through node b: node a's points.
        var history: [String: Any] = [:]
        let pointed = try await eventually(25, every: .seconds(1)) {
            history = (try await cluster.curl(1, ["/v1/channels/\(id)/stats/history?window=10m"])["data"] as? [String: Any]) ?? [:]
            return ((history["points"] as? [[String: Any]]) ?? []).contains { ($0["fps"] as? Double ?? 0) > 20 }
        }
        XCTAssertTrue(pointed, "\(history)")
        XCTAssertEqual(history["nodeId"] as? String, "node-a")

        // The event stream of node b has node a's events.
        let stream = try await ProcessRunner.run("curl", ["-s", "-N", "-u", "\(ClusterHarness.token):\(ClusterHarness.secret)",
                                                          cluster.nodes[1].api + "/v1/events/stream?after=0&channelId=\(id)&closeAfterSec=2"], timeout: 15)
        XCTAssertTrue(stream.stdout.contains("event: channel.live"), stream.stdout)

        // The recording's poster, on node a's disk only, through node b.
        kill(publisher.processIdentifier, SIGINT)
        let ready = await cluster.receiver.wait(timeout: 30) { $0.contains { $0.type == "video.ready" && $0.channelId == id } }
        XCTAssertTrue(ready)
        let videos = ((try await cluster.curl(1, ["/v1/videos?channelId=\(id)"])["data"] as? [String: Any])?["items"] as? [[String: Any]]) ?? []
        let videoId = try XCTUnwrap(videos.first?["id"] as? String, "\(videos)")
        let poster = cluster.dir.appendingPathComponent("poster.jpg")
        let postered = try await eventually(15, every: .milliseconds(400)) {
            try await ProcessRunner.run("curl", ["-s", "-f", "-o", poster.path, "-u", "\(ClusterHarness.token):\(ClusterHarness.secret)",
                                                 cluster.nodes[1].api + "/v1/videos/\(videoId)/thumbnail.jpg"], timeout: 10).exitCode == 0
        }
        XCTAssertTrue(postered)
        let posterInfo = try await MediaTools.probe(poster).first
        XCTAssertEqual(posterInfo?.width, 480)
        await cluster.stop()
    }
}
